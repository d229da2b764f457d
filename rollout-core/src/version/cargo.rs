//! The Cargo reader: `package.version` of a `Cargo.toml`, with workspace inheritance resolved.
//!
//! `version.workspace = true` is resolved as Cargo resolves it: the workspace root is the manifest named
//! by `package.workspace`, else the manifest itself when it has a `[workspace]` table, else the nearest
//! ancestor `Cargo.toml` with a `[workspace]` table; the version is that root's
//! `[workspace.package] version`. A virtual manifest (a `[workspace]` without `[package]`) gives its
//! `[workspace.package] version`. It does not check that the package is a member of the workspace it
//! found (`members`/`exclude` globs), and does not run cargo.

use std::path::{Path, PathBuf};

use super::{non_empty, parse_toml, read_text};
use crate::error::{Error, Result};

/// Reads the version of the manifest at `file`.
pub(super) fn read(file: &Path) -> Result<String> {
    let manifest = parse_toml(file, &read_text(file)?)?;
    let not_found = |reason: String| Error::VersionNotFound { path: file.to_owned(), reason };
    let Some(package) = manifest.get("package") else {
        return match workspace_version(&manifest) {
            Some(version) => non_empty(file, "[workspace.package] version", version),
            None => Err(not_found("Cargo.toml has no [package] version and no [workspace.package] version".into())),
        };
    };
    match package.get("version") {
        Some(toml::Value::String(version)) => non_empty(file, "package.version", version),
        Some(toml::Value::Table(t)) if t.get("workspace") == Some(&toml::Value::Boolean(true)) => {
            let root = find_workspace_root(file, &manifest, package)?;
            let root_manifest = if root == file { manifest.clone() } else { parse_toml(&root, &read_text(&root)?)? };
            match workspace_version(&root_manifest) {
                Some(version) => non_empty(&root, "[workspace.package] version", version),
                None => Err(Error::VersionNotFound {
                    path: root.clone(),
                    reason: format!(
                        "{} inherits version.workspace = true, but this workspace root has no [workspace.package] \
                         version",
                        file.display()
                    ),
                }),
            }
        }
        Some(_) => Err(not_found("package.version must be a string or { workspace = true }".into())),
        // Cargo defaults a missing version to 0.0.0, which is no release version to tag.
        None => Err(not_found("[package] has no version (Cargo would use 0.0.0); set package.version".into())),
    }
}

fn workspace_version(manifest: &toml::Table) -> Option<&str> {
    manifest.get("workspace")?.get("package")?.get("version")?.as_str()
}

/// The workspace root manifest for the package manifest at `file`.
fn find_workspace_root(file: &Path, manifest: &toml::Table, package: &toml::Value) -> Result<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("."));
    if let Some(explicit) = package.get("workspace").and_then(toml::Value::as_str) {
        let root = dir.join(explicit);
        let root = if root.is_dir() { root.join("Cargo.toml") } else { root };
        return if root.is_file() {
            Ok(root)
        } else {
            Err(Error::VersionNotFound {
                path: file.to_owned(),
                reason: format!("package.workspace names {}, which does not exist", root.display()),
            })
        };
    }
    if manifest.contains_key("workspace") {
        return Ok(file.to_owned());
    }
    let start = std::path::absolute(dir).map_err(|source| Error::ReadFile { path: dir.to_owned(), source })?;
    for ancestor in start.ancestors().skip(1) {
        let candidate = ancestor.join("Cargo.toml");
        if candidate.is_file() && parse_toml(&candidate, &read_text(&candidate)?)?.contains_key("workspace") {
            return Ok(candidate);
        }
    }
    Err(Error::VersionNotFound {
        path: file.to_owned(),
        reason: "it inherits version.workspace = true, but no ancestor Cargo.toml has a [workspace]".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn cargo_versions_are_read_and_inherited_from_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n[workspace.package]\nversion = \"0.4.2\"\n");
        let rows = [
            ("plain", "crates/a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"1.2.3\"\n", "1.2.3"),
            ("inherited", "crates/b/Cargo.toml", "[package]\nname = \"b\"\nversion.workspace = true\n", "0.4.2"),
            (
                "inherited, inline",
                "crates/c/Cargo.toml",
                "[package]\nname = \"c\"\nversion = { workspace = true }\n",
                "0.4.2",
            ),
            ("virtual manifest", "Cargo.toml", "", "0.4.2"),
        ];
        for (name, path, text, expected) in rows {
            let file = if text.is_empty() { root.join(path) } else { write(root, path, text) };
            assert_eq!(read(&file).unwrap_or_else(|e| panic!("{name}: {e}")), expected, "{name}");
        }
    }

    #[test]
    fn a_root_package_can_inherit_from_its_own_workspace_table() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "Cargo.toml",
            "[package]\nname = \"r\"\nversion.workspace = true\n\
             [workspace]\n[workspace.package]\nversion = \"3.0.0\"\n",
        );
        assert_eq!(read(&file).unwrap(), "3.0.0");
    }

    #[test]
    fn an_explicit_workspace_path_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ws/Cargo.toml", "[workspace]\n[workspace.package]\nversion = \"5.5.5\"\n");
        let file = write(
            dir.path(),
            "elsewhere/x/Cargo.toml",
            "[package]\nname = \"x\"\nworkspace = \"../../ws\"\nversion.workspace = true\n",
        );
        assert_eq!(read(&file).unwrap(), "5.5.5");
    }

    #[test]
    fn missing_cargo_versions_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            ("no version", "a/Cargo.toml", "[package]\nname = \"a\"\n", "Cargo would use 0.0.0"),
            (
                "no workspace",
                "b/Cargo.toml",
                "[package]\nname = \"b\"\nversion.workspace = true\n",
                "no ancestor Cargo.toml",
            ),
            ("wrong type", "c/Cargo.toml", "[package]\nversion = 3\n", "must be a string"),
            ("virtual, no version", "d/Cargo.toml", "[workspace]\n", "no [package] version"),
        ];
        for (name, path, text, expected) in rows {
            let file = write(dir.path(), path, text);
            let err = read(&file).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn a_workspace_root_without_a_package_version_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = write(dir.path(), "Cargo.toml", "[workspace]\nmembers = [\"m\"]\n");
        let member = write(dir.path(), "m/Cargo.toml", "[package]\nname = \"m\"\nversion.workspace = true\n");
        match read(&member).unwrap_err() {
            Error::VersionNotFound { path, reason } => {
                assert_eq!(path, root);
                assert!(reason.contains("no [workspace.package] version"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_toml_is_reported_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "Cargo.toml", "[package]\nname = \"a\"\nversion = 1.0.0\n");
        match read(&file).unwrap_err() {
            Error::MalformedFile { line, column, reason, .. } => assert_eq!((line, column), (3, 14), "{reason}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
