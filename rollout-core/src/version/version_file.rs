//! The VERSION-file reader: the first non-empty line of a plain text file, trimmed.
//!
//! Anything after that line (a changelog, comments) is ignored.

use std::path::Path;

use super::read_text;
use crate::error::{Error, Result};

/// Reads the version in the VERSION file at `file`.
pub(super) fn read(file: &Path) -> Result<String> {
    read_text(file)?.lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_owned).ok_or_else(|| {
        Error::VersionNotFound { path: file.to_owned(), reason: "the file has no non-empty line".into() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_non_empty_line_is_the_version() {
        let rows = [
            ("plain", "1.4.0\n", Some("1.4.0")),
            ("no newline", "1.4.0", Some("1.4.0")),
            ("blank lines and spaces", "\n  \n  2.0.0-rc.1  \r\nnotes\n", Some("2.0.0-rc.1")),
            ("byte-order mark", "\u{feff}3.0\n", Some("3.0")),
            ("empty", "\n \n", None),
        ];
        for (name, text, expected) in rows {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("VERSION");
            std::fs::write(&file, text).unwrap();
            match expected {
                Some(expected) => assert_eq!(read(&file).unwrap(), expected, "{name}"),
                None => assert!(read(&file).unwrap_err().to_string().contains("no non-empty line"), "{name}"),
            }
        }
    }
}
