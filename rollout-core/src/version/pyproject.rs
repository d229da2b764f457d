//! The pyproject reader: `[project] version` (PEP 621) or `[tool.poetry] version` of a `pyproject.toml`.
//!
//! A version the build backend computes (`dynamic = ["version"]`, as setuptools-scm or hatch-vcs do) is
//! not in the file: it is an error that points to the git source, which reads what those tools read.
//! Poetry 2 may declare `dynamic = ["version"]` and still keep the version in `[tool.poetry]`; that
//! version is used.

use std::path::Path;

use super::{non_empty, parse_toml, read_text};
use crate::error::{Error, Result};

/// Reads the version of the pyproject.toml at `file`.
pub(super) fn read(file: &Path) -> Result<String> {
    let doc = parse_toml(file, &read_text(file)?)?;
    let not_found = |reason: &str| Error::VersionNotFound { path: file.to_owned(), reason: reason.to_owned() };
    let project = doc.get("project");
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    for (table, what) in [(project, "[project] version"), (poetry, "[tool.poetry] version")] {
        match table.and_then(|t| t.get("version")) {
            Some(toml::Value::String(version)) => return non_empty(file, what, version),
            Some(_) => return Err(not_found(&format!("{what} must be a string"))),
            None => {}
        }
    }
    let dynamic = project
        .and_then(|p| p.get("dynamic"))
        .and_then(toml::Value::as_array)
        .is_some_and(|list| list.iter().any(|v| v.as_str() == Some("version")));
    if dynamic {
        return Err(not_found(
            "the version is dynamic (computed by the build backend, e.g. from git tags); use the git source instead",
        ));
    }
    Err(not_found("pyproject.toml has neither [project] version nor [tool.poetry] version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyproject_versions_are_read_or_reported() {
        let rows = [
            ("pep 621", "[project]\nname = \"svc\"\nversion = \"0.9.1\"\n", Ok("0.9.1")),
            ("poetry", "[tool.poetry]\nname = \"svc\"\nversion = \"1.3.0a2\"\n", Ok("1.3.0a2")),
            (
                "project wins over poetry",
                "[project]\nversion = \"2.0.0\"\n[tool.poetry]\nversion = \"1.0.0\"\n",
                Ok("2.0.0"),
            ),
            (
                "poetry 2 with a dynamic project version",
                "[project]\nname = \"svc\"\ndynamic = [\"version\"]\n[tool.poetry]\nversion = \"4.0.0\"\n",
                Ok("4.0.0"),
            ),
            ("dynamic", "[project]\nname = \"svc\"\ndynamic = [\"version\", \"readme\"]\n", Err("use the git source")),
            ("missing", "[build-system]\nrequires = [\"hatchling\"]\n", Err("neither [project] version")),
            ("not a string", "[project]\nversion = 1\n", Err("must be a string")),
        ];
        for (name, text, expected) in rows {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("pyproject.toml");
            std::fs::write(&file, text).unwrap();
            match (read(&file), expected) {
                (Ok(version), Ok(expected)) => assert_eq!(version, expected, "{name}"),
                (Err(err), Err(expected)) => assert!(err.to_string().contains(expected), "{name}: {err}"),
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn malformed_pyproject_is_reported_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pyproject.toml");
        std::fs::write(&file, "[project]\nversion = \"1.0\n").unwrap();
        assert!(matches!(read(&file).unwrap_err(), Error::MalformedFile { line: 2, .. }));
    }
}
