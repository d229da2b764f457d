//! Placeholder until defaulting and validation land.
use serde_json::Value;

use crate::error::FieldError;
use crate::kinds::Kind;

pub fn apply_defaults(_kind: Kind, _obj: &mut Value) {}

pub fn validate(_kind: Kind, _obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    Vec::new()
}
