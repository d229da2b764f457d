//! Query-string parsing as Go's `url.ParseQuery` does it: `&`-separated pairs, `+` as a space,
//! percent-decoding, and empty pairs tolerated (kube-rs sends `?&watch=true…`).

use std::collections::BTreeMap;

use crate::error::ApiError;

/// Decoded query parameters; the first value of a repeated key wins.
#[derive(Debug, Default, Clone)]
pub struct Query {
    params: BTreeMap<String, String>,
}

impl Query {
    /// Parses a raw query string (without the `?`).
    pub fn parse(raw: Option<&str>) -> Self {
        let mut params = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.entry(decode(k)).or_insert_with(|| decode(v));
        }
        Self { params }
    }

    /// One parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// A parameter that is present and non-empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// A boolean parameter (`true`, `1`); absent is false.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True" | "TRUE"))
    }

    /// An integer parameter, rejecting malformed values with a 400 that names the parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.non_empty(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {v:?} for query parameter {key}: not an integer"))
            }),
        }
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_leading_ampersand_and_encoded_selectors_are_tolerated() {
        let q = Query::parse(Some("&watch=true&fieldSelector=metadata.name%3Dweb&labelSelector=app+in+%28a%2Cb%29"));
        assert!(q.flag("watch"));
        assert_eq!(q.get("fieldSelector"), Some("metadata.name=web"));
        assert_eq!(q.get("labelSelector"), Some("app in (a,b)"));
        assert_eq!(q.get("nope"), None);
    }

    #[test]
    fn integers_are_checked() {
        let q = Query::parse(Some("limit=500&timeoutSeconds=abc&timeout=32s"));
        assert_eq!(q.int("limit").unwrap(), Some(500));
        assert_eq!(q.int("timeoutSeconds").unwrap_err().code, 400);
        assert_eq!(q.get("timeout"), Some("32s"));
    }
}
