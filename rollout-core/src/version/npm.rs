//! The npm reader: the `version` field of a `package.json`.
//!
//! It does not follow npm workspaces or read a lockfile: the package's own manifest is its version.

use std::path::Path;

use super::{non_empty, read_text};
use crate::error::{Error, Result};

/// Reads the `version` of the package.json at `file`.
pub(super) fn read(file: &Path) -> Result<String> {
    let text = read_text(file)?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        // serde_json appends " at line L column C"; the position has its own fields.
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let reason = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
        Error::MalformedFile { file: file.to_owned(), line: e.line(), column: e.column(), reason }
    })?;
    let not_found = |reason: &str| Error::VersionNotFound { path: file.to_owned(), reason: reason.to_owned() };
    match value.get("version") {
        Some(serde_json::Value::String(version)) => non_empty(file, "\"version\"", version),
        Some(_) => Err(not_found("\"version\" must be a string")),
        None if value.is_object() => Err(not_found(
            "package.json has no \"version\" field; add one, or choose another source (git, version-file)",
        )),
        None => Err(not_found("package.json must hold a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_versions_are_read_or_reported() {
        let rows = [
            ("plain", r#"{"name": "web", "version": "2.1.0-beta.1"}"#, Ok("2.1.0-beta.1")),
            ("missing", r#"{"name": "web", "private": true}"#, Err("no \"version\" field")),
            ("not a string", r#"{"version": 2}"#, Err("must be a string")),
            ("empty", r#"{"version": " "}"#, Err("is empty")),
            ("not an object", r#"["1.0.0"]"#, Err("JSON object")),
        ];
        for (name, text, expected) in rows {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("package.json");
            std::fs::write(&file, text).unwrap();
            match (read(&file), expected) {
                (Ok(version), Ok(expected)) => assert_eq!(version, expected, "{name}"),
                (Err(err), Err(expected)) => assert!(err.to_string().contains(expected), "{name}: {err}"),
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn malformed_json_is_reported_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("package.json");
        std::fs::write(&file, "{\n  \"version\": \"1.0.0\",\n}\n").unwrap();
        match read(&file).unwrap_err() {
            Error::MalformedFile { line, column, reason, .. } => {
                assert_eq!((line, column), (3, 1));
                assert!(reason.contains("trailing comma") && !reason.contains("line 3"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
