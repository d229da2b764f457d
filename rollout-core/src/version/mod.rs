//! Reading a project's version from the files that declare it, or from git.
//!
//! This module owns one reader per source (Maven pom.xml, Cargo.toml, package.json, pyproject.toml, a
//! `VERSION` file, git) and the auto-detection that picks one for a directory. Each reader parses the
//! file itself — no JVM, cargo, npm or Python is run — and resolves what the build tool would resolve
//! (Maven properties and parents, Cargo workspace inheritance). It deliberately does not turn a version
//! into a tag: that is [`crate::tag`]'s job. It reads no environment variables either, so its answer
//! depends only on the files, git, and what the caller passes.
//!
//! Auto-detection looks in this order and takes the **first file that exists**, without falling back to
//! the next one when that file has no version: a fallback would silently tag a Maven project from its
//! package.json. The error then says which source to choose instead.
//!
//! | source        | file             | version                                                              |
//! |---------------|------------------|----------------------------------------------------------------------|
//! | `pom`         | `pom.xml`        | `<project><version>`, else `<parent><version>`, properties resolved   |
//! | `cargo`       | `Cargo.toml`     | `package.version`, or `[workspace.package] version` when inherited   |
//! | `npm`         | `package.json`   | `version`                                                             |
//! | `pyproject`   | `pyproject.toml` | `[project] version`, else `[tool.poetry] version`                     |
//! | `version-file`| `VERSION`        | the first non-empty line, trimmed                                     |
//! | `git`         | (the repository) | `git describe --tags --always --dirty`                                |

mod cargo;
mod git;
mod npm;
mod pom;
mod pyproject;
mod version_file;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use git::{GitInfo, SHORT_SHA_LEN, branch_from_ci_env, read_git};

#[cfg(test)]
pub(crate) use git::tests as tests_support;

/// Where a project version was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// A Maven `pom.xml`.
    Pom,
    /// A Rust `Cargo.toml`.
    Cargo,
    /// An npm `package.json`.
    Npm,
    /// A Python `pyproject.toml` (PEP 621 `[project]` or Poetry's `[tool.poetry]`).
    Pyproject,
    /// A plain `VERSION` file.
    VersionFile,
    /// The git repository: `git describe --tags --always --dirty`.
    Git,
}

impl VersionSource {
    /// Every source, in auto-detection order.
    pub const ALL: [VersionSource; 6] =
        [Self::Pom, Self::Cargo, Self::Npm, Self::Pyproject, Self::VersionFile, Self::Git];

    /// The name used in JSON and by the CLI's `--source`: `pom`, `cargo`, `npm`, `pyproject`, `version-file`, `git`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pom => "pom",
            Self::Cargo => "cargo",
            Self::Npm => "npm",
            Self::Pyproject => "pyproject",
            Self::VersionFile => "version-file",
            Self::Git => "git",
        }
    }

    /// The file this source reads in a directory; `None` for git.
    pub fn file_name(self) -> Option<&'static str> {
        match self {
            Self::Pom => Some("pom.xml"),
            Self::Cargo => Some("Cargo.toml"),
            Self::Npm => Some("package.json"),
            Self::Pyproject => Some("pyproject.toml"),
            Self::VersionFile => Some("VERSION"),
            Self::Git => None,
        }
    }

    /// The source a file is read with, judged by its name alone (`pom.xml` and `*.pom` are Maven poms).
    fn of_file(path: &Path) -> Option<VersionSource> {
        let name = path.file_name()?.to_str()?;
        Self::ALL
            .into_iter()
            .find(|s| s.file_name() == Some(name))
            .or_else(|| name.ends_with(".pom").then_some(Self::Pom))
    }
}

impl fmt::Display for VersionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VersionSource {
    type Err = Error;

    /// Parses the names of [`VersionSource::as_str`], ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|source| source.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            Error::InvalidInput {
                field: "source".into(),
                value: s.into(),
                reason: format!("allowed: {}", Self::ALL.map(Self::as_str).join(", ")),
            }
        })
    }
}

/// A project version and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectVersion {
    /// The source the version was read from.
    pub source: VersionSource,
    /// The file the version was read from; `None` for git.
    pub file: Option<PathBuf>,
    /// The version, exactly as resolved (a git description keeps its `v` prefix, a Maven `-SNAPSHOT` stays).
    pub version: String,
    /// The repository's state: always present for the git source, and for other sources when a tag
    /// template needed a commit or branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitInfo>,
}

impl ProjectVersion {
    /// The version split into semver-like parts, leniently: see [`VersionParts::parse`].
    pub fn parts(&self) -> VersionParts {
        VersionParts::parse(&self.version)
    }
}

/// The parts of a version, read leniently so Maven, PEP 440 and git versions give what they have.
///
/// A leading `v` is skipped; then up to three dot-separated numbers are `major`, `minor` and `patch`
/// (kept as written); what follows `+` is `build`; what remains between them, without its leading `-` or
/// `.`, is `prerelease`. So `1.0.0-SNAPSHOT` gives `1`, `0`, `0`, `SNAPSHOT`; Spring's `2.3.4.RELEASE`
/// gives `2`, `3`, `4`, `RELEASE`; `1.0` has no patch; `v1.2.3-4-gabc1234` (git describe) gives
/// prerelease `4-gabc1234`; `main` has no numbers at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionParts {
    /// The first number.
    pub major: Option<String>,
    /// The second number.
    pub minor: Option<String>,
    /// The third number.
    pub patch: Option<String>,
    /// The qualifier after the numbers, without its separator.
    pub prerelease: Option<String>,
    /// The build metadata after `+`.
    pub build: Option<String>,
}

impl VersionParts {
    /// Splits `version` into its parts; never fails, a part that is not there is `None`.
    pub fn parse(version: &str) -> VersionParts {
        let (main, build) = match version.split_once('+') {
            Some((main, build)) => (main, (!build.is_empty()).then(|| build.to_owned())),
            None => (version, None),
        };
        let mut rest = match main.strip_prefix(['v', 'V']) {
            Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => after,
            _ => main,
        };
        let mut numbers = Vec::new();
        while numbers.len() < 3 {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                break;
            }
            numbers.push(rest[..digits].to_owned());
            rest = &rest[digits..];
            // Continue only over a '.' that is followed by another number.
            match rest.strip_prefix('.') {
                Some(after) if numbers.len() < 3 && after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
                _ => break,
            }
        }
        let prerelease = if numbers.is_empty() {
            None
        } else {
            let qualifier = rest.strip_prefix(['-', '.']).unwrap_or(rest);
            (!qualifier.is_empty()).then(|| qualifier.to_owned())
        };
        let mut numbers = numbers.into_iter();
        VersionParts { major: numbers.next(), minor: numbers.next(), patch: numbers.next(), prerelease, build }
    }
}

/// Reads the version of the project at `path` (a directory, or a file such as `sub/pom.xml`).
///
/// `source` picks the reader; `None` auto-detects (a directory: the first of pom.xml, Cargo.toml,
/// package.json, pyproject.toml, VERSION that exists, else git; a file: by its name). `overrides` are
/// Maven property values that win over everything else, like `mvn -Dkey=value`.
pub fn read_version(
    path: &Path,
    source: Option<VersionSource>,
    overrides: &BTreeMap<String, String>,
) -> Result<ProjectVersion> {
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    let metadata = std::fs::metadata(path).map_err(|source| Error::ReadFile { path: path.to_owned(), source })?;
    if metadata.is_file() {
        let source = source.or_else(|| VersionSource::of_file(path)).ok_or_else(|| Error::VersionNotFound {
            path: path.to_owned(),
            reason: format!(
                "cannot tell the source from the file name; name the source ({})",
                VersionSource::ALL.map(VersionSource::as_str).join(", ")
            ),
        })?;
        return read_file(source, path, overrides);
    }
    match source {
        Some(VersionSource::Git) => from_git(path),
        Some(source) => {
            let file = path.join(source.file_name().unwrap_or_default());
            if !file.is_file() {
                return Err(Error::VersionNotFound {
                    path: path.to_owned(),
                    reason: format!("there is no {} for the {source} source", file.display()),
                });
            }
            read_file(source, &file, overrides)
        }
        None => detect(path, overrides),
    }
}

fn detect(dir: &Path, overrides: &BTreeMap<String, String>) -> Result<ProjectVersion> {
    for source in VersionSource::ALL {
        if let Some(name) = source.file_name() {
            let file = dir.join(name);
            if file.is_file() {
                return read_file(source, &file, overrides);
            }
        }
    }
    if git::is_work_tree(dir) {
        return from_git(dir);
    }
    Err(Error::VersionNotFound {
        path: dir.to_owned(),
        reason: "found none of pom.xml, Cargo.toml, package.json, pyproject.toml, VERSION, and it is not inside a \
                 git work tree"
            .into(),
    })
}

fn read_file(source: VersionSource, file: &Path, overrides: &BTreeMap<String, String>) -> Result<ProjectVersion> {
    let version = match source {
        VersionSource::Pom => pom::read(file, overrides)?,
        VersionSource::Cargo => cargo::read(file)?,
        VersionSource::Npm => npm::read(file)?,
        VersionSource::Pyproject => pyproject::read(file)?,
        VersionSource::VersionFile => version_file::read(file)?,
        VersionSource::Git => return from_git(file.parent().unwrap_or(Path::new("."))),
    };
    Ok(ProjectVersion { source, file: Some(file.to_owned()), version, git: None })
}

fn from_git(dir: &Path) -> Result<ProjectVersion> {
    let info = read_git(dir)?;
    Ok(ProjectVersion { source: VersionSource::Git, file: None, version: info.describe.clone(), git: Some(info) })
}

/// Reads a file as UTF-8 text, without a leading byte-order mark.
fn read_text(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile { path: path.to_owned(), source })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Parses TOML, reporting a syntax error with its line and column.
fn parse_toml(file: &Path, text: &str) -> Result<toml::Table> {
    toml::from_str::<toml::Table>(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |span| line_column(text, span.start));
        Error::MalformedFile { file: file.to_owned(), line, column, reason: e.message().trim().to_owned() }
    })
}

/// A version string must say something: an empty or blank one is treated as absent.
fn non_empty(file: &Path, what: &str, version: &str) -> Result<String> {
    let version = version.trim();
    if version.is_empty() {
        return Err(Error::VersionNotFound { path: file.to_owned(), reason: format!("{what} is empty") });
    }
    Ok(version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn version_parts_are_read_leniently() {
        type Parts<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let rows: [(&str, Parts); 14] = [
            ("1.0.0", (Some("1"), Some("0"), Some("0"), None, None)),
            ("1.0", (Some("1"), Some("0"), None, None, None)),
            ("7", (Some("7"), None, None, None, None)),
            ("1.0.0-SNAPSHOT", (Some("1"), Some("0"), Some("0"), Some("SNAPSHOT"), None)),
            ("1.0-SNAPSHOT", (Some("1"), Some("0"), None, Some("SNAPSHOT"), None)),
            ("2.3.4.RELEASE", (Some("2"), Some("3"), Some("4"), Some("RELEASE"), None)),
            ("1.2.3-rc.1+build.5", (Some("1"), Some("2"), Some("3"), Some("rc.1"), Some("build.5"))),
            ("v1.2.3-4-gabc1234-dirty", (Some("1"), Some("2"), Some("3"), Some("4-gabc1234-dirty"), None)),
            ("1.2.3.4", (Some("1"), Some("2"), Some("3"), Some("4"), None)),
            ("1.0a1", (Some("1"), Some("0"), None, Some("a1"), None)),
            ("01.002.3", (Some("01"), Some("002"), Some("3"), None, None)),
            ("main", (None, None, None, None, None)),
            ("abc1234", (None, None, None, None, None)),
            ("1.0.", (Some("1"), Some("0"), None, None, None)),
        ];
        for (version, (major, minor, patch, prerelease, build)) in rows {
            let parts = VersionParts::parse(version);
            assert_eq!(parts.major.as_deref(), major, "{version}");
            assert_eq!(parts.minor.as_deref(), minor, "{version}");
            assert_eq!(parts.patch.as_deref(), patch, "{version}");
            assert_eq!(parts.prerelease.as_deref(), prerelease, "{version}");
            assert_eq!(parts.build.as_deref(), build, "{version}");
        }
    }

    #[test]
    fn version_sources_round_trip_through_their_names() {
        for source in VersionSource::ALL {
            assert_eq!(source.as_str().parse::<VersionSource>().unwrap(), source);
            assert_eq!(serde_json::to_string(&source).unwrap(), format!("\"{source}\""));
        }
        assert_eq!("Version-File".parse::<VersionSource>().unwrap(), VersionSource::VersionFile);
        let err = "maven".parse::<VersionSource>().unwrap_err().to_string();
        assert!(err.contains("\"maven\"") && err.contains("pom, cargo, npm, pyproject, version-file, git"), "{err}");
    }

    #[test]
    fn line_column_counts_characters_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, text.find('f').unwrap()), (3, 1));
        assert_eq!(line_column(text, text.find('é').unwrap() + 1), (2, 3));
        assert_eq!(line_column(text, 999), (3, 2));
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const POM: &str = "<project><artifactId>a</artifactId><version>1.0.0</version></project>";

    #[test]
    fn detection_takes_the_first_version_file_in_order_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let none = BTreeMap::new();
        write(dir.path(), "VERSION", "9.9.9\n");
        write(dir.path(), "package.json", r#"{"version": "2.0.0"}"#);
        let npm = read_version(dir.path(), None, &none).unwrap();
        assert_eq!((npm.source, npm.version.as_str()), (VersionSource::Npm, "2.0.0"));
        assert_eq!(npm.file, Some(dir.path().join("package.json")));
        assert_eq!(npm.git, None);

        let pom = write(dir.path(), "pom.xml", POM);
        let found = read_version(dir.path(), None, &none).unwrap();
        assert_eq!((found.source, found.version.as_str()), (VersionSource::Pom, "1.0.0"));
        assert_eq!(found.file, Some(pom));

        let chosen = read_version(dir.path(), Some(VersionSource::VersionFile), &none).unwrap();
        assert_eq!((chosen.source, chosen.version.as_str()), (VersionSource::VersionFile, "9.9.9"));
    }

    #[test]
    fn detection_does_not_fall_back_when_the_first_file_has_no_version() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "package.json", r#"{"private": true}"#);
        write(dir.path(), "VERSION", "1.0.0\n");
        let err = read_version(dir.path(), None, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("package.json") && err.contains("choose another source"), "{err}");
    }

    #[test]
    fn a_file_path_is_read_by_its_name_or_the_chosen_source() {
        let dir = tempfile::tempdir().unwrap();
        let none = BTreeMap::new();
        let pom = write(dir.path(), "pom.xml", POM);
        assert_eq!(read_version(&pom, None, &none).unwrap().source, VersionSource::Pom);
        let module = write(dir.path(), "module.pom", POM);
        assert_eq!(read_version(&module, None, &none).unwrap().version, "1.0.0");
        let release = write(dir.path(), "release.txt", "4.5.6\n");
        let err = read_version(&release, None, &none).unwrap_err().to_string();
        assert!(err.contains("cannot tell the source"), "{err}");
        let read = read_version(&release, Some(VersionSource::VersionFile), &none).unwrap();
        assert_eq!((read.version.as_str(), read.file), ("4.5.6", Some(release)));
    }

    #[test]
    fn a_missing_file_or_path_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let none = BTreeMap::new();
        let err = read_version(dir.path(), Some(VersionSource::Cargo), &none).unwrap_err().to_string();
        assert!(err.contains("Cargo.toml for the cargo source"), "{err}");
        let err = read_version(dir.path(), None, &none).unwrap_err().to_string();
        assert!(err.contains("found none of pom.xml"), "{err}");
        let missing = dir.path().join("nope");
        assert!(matches!(read_version(&missing, None, &none), Err(Error::ReadFile { .. })));
    }

    #[test]
    fn detection_falls_back_to_git_without_version_files() {
        let repo = git::tests::repo();
        git::tests::git(repo.path(), &["tag", "v3.1.0"]);
        let found = read_version(repo.path(), None, &BTreeMap::new()).unwrap();
        assert_eq!((found.source, found.version.as_str(), &found.file), (VersionSource::Git, "v3.1.0", &None));
        assert_eq!(found.git.as_ref().unwrap().branch.as_deref(), Some("main"));
        assert_eq!(found.parts().major.as_deref(), Some("3"));
    }

    #[test]
    fn project_versions_serialize_with_source_names() {
        let version = ProjectVersion {
            source: VersionSource::VersionFile,
            file: Some("VERSION".into()),
            version: "1.0".into(),
            git: None,
        };
        let json = serde_json::to_value(&version).unwrap();
        assert_eq!(json, serde_json::json!({"source": "version-file", "file": "VERSION", "version": "1.0"}));
        assert_eq!(serde_json::from_value::<ProjectVersion>(json).unwrap(), version);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn version_parts_never_panic(s in "\\PC{0,40}") {
            let _ = VersionParts::parse(&s);
        }
    }
}
