//! The Maven reader: the project version of a `pom.xml`, resolved as Maven would resolve it.
//!
//! It reads `<project><version>`, or `<project><parent><version>` when the project inherits its version,
//! and interpolates `${...}` expressions the way Maven's model interpolator does, in this order (first
//! match wins):
//!
//! 1. the caller's overrides (what `mvn -Dkey=value` would pass);
//! 2. `project.version`, `project.parent.version`, `project.groupId`, `project.artifactId` (and the older
//!    `pom.` spellings), from the model itself;
//! 3. `-Dkey=value` and `--define key=value` flags in `.mvn/maven.config`, found in the nearest ancestor
//!    directory that has a `.mvn` directory (Maven's multi-module project directory); Maven treats them
//!    as user properties, which beat the pom's own properties — that is how CI-friendly versions
//!    (`${revision}${sha1}${changelist}`) are set;
//! 4. the pom's `<properties>`, then those of its parents, found through `<parent><relativePath>`
//!    (default `../pom.xml`) as long as the file there is the declared parent (same groupId and
//!    artifactId), exactly as Maven looks up a parent locally before asking a repository.
//!
//! It does not download parents from a repository, evaluate profiles or read `settings.xml`; a property
//! only those would define is reported as unresolved, naming it, so the caller can pass it as an override.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{line_column, non_empty, read_text};
use crate::error::{Error, Result};

/// How many parent poms are followed at most: real hierarchies are a few levels deep, and a bound
/// stops a parent cycle made with symlinks.
const MAX_PARENTS: usize = 16;

/// Reads the resolved project version of the pom at `file`.
pub(super) fn read(file: &Path, overrides: &BTreeMap<String, String>) -> Result<String> {
    let pom = Pom::load(file)?;
    let Some(raw) = pom.version.clone().or_else(|| pom.parent.as_ref().and_then(|p| p.version.clone())) else {
        return Err(Error::VersionNotFound {
            path: file.to_owned(),
            reason: "the pom has neither <version> nor <parent><version>".into(),
        });
    };
    let user = match find_maven_config(file) {
        Some(config) => parse_maven_config(&config, &read_text(&config)?)?,
        None => BTreeMap::new(),
    };
    let mut resolver = Resolver { file: file.to_owned(), overrides, user, chain: vec![pom], chain_done: false };
    let version = resolver.interpolate(&raw, &mut Vec::new())?;
    non_empty(file, "the resolved <version>", &version)
}

/// The parts of a pom that version resolution needs.
#[derive(Debug)]
struct Pom {
    file: PathBuf,
    group_id: Option<String>,
    artifact_id: Option<String>,
    version: Option<String>,
    parent: Option<Parent>,
    properties: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Parent {
    group_id: Option<String>,
    artifact_id: Option<String>,
    version: Option<String>,
    /// `None` when `<relativePath/>` is empty: Maven then skips the local lookup.
    relative_path: Option<String>,
}

impl Pom {
    fn load(file: &Path) -> Result<Pom> {
        let text = read_text(file)?;
        Self::parse(file, &text)
    }

    fn parse(file: &Path, text: &str) -> Result<Pom> {
        let doc = roxmltree::Document::parse(text).map_err(|e| xml_error(file, text, &e))?;
        let root = doc.root_element();
        if root.tag_name().name() != "project" {
            let (line, column) = line_column(text, root.range().start);
            return Err(Error::MalformedFile {
                file: file.to_owned(),
                line,
                column,
                reason: format!("the root element is <{}>, a pom's is <project>", root.tag_name().name()),
            });
        }
        let parent = child(root, "parent").map(|p| Parent {
            group_id: child_text(p, "groupId"),
            artifact_id: child_text(p, "artifactId"),
            version: child_text(p, "version"),
            relative_path: match child(p, "relativePath") {
                Some(node) => Some(text_of(node)).filter(|path| !path.is_empty()),
                None => Some("../pom.xml".to_owned()),
            },
        });
        let properties = child(root, "properties")
            .map(|props| {
                props
                    .children()
                    .filter(|n| n.is_element())
                    .map(|n| (n.tag_name().name().to_owned(), text_of(n)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Pom {
            file: file.to_owned(),
            group_id: child_text(root, "groupId"),
            artifact_id: child_text(root, "artifactId"),
            version: child_text(root, "version"),
            parent,
            properties,
        })
    }

    /// The groupId, inherited from the parent when the pom does not declare one.
    fn effective_group_id(&self) -> Option<&str> {
        self.group_id.as_deref().or_else(|| self.parent.as_ref()?.group_id.as_deref())
    }

    /// The parent pom on disk, if `relativePath` leads to the declared parent.
    fn local_parent(&self) -> Result<Option<Pom>> {
        let Some(parent) = &self.parent else { return Ok(None) };
        let Some(relative) = &parent.relative_path else { return Ok(None) };
        let mut path = self.file.parent().unwrap_or(Path::new(".")).join(relative);
        if path.is_dir() {
            path = path.join("pom.xml");
        }
        if !path.is_file() {
            return Ok(None);
        }
        let candidate = Pom::load(&path)?;
        let same =
            candidate.artifact_id == parent.artifact_id && candidate.effective_group_id() == parent.group_id.as_deref();
        Ok(same.then_some(candidate))
    }
}

/// The first child element of `node` with local name `name` (namespaces are ignored: poms use a
/// default namespace that some files declare and others omit).
fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.is_element() && n.tag_name().name() == name)
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).map(text_of)
}

/// The trimmed text of an element: its text and CDATA, without comments.
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.children().filter(|n| n.is_text()).filter_map(|n| n.text()).collect::<String>().trim().to_owned()
}

/// Turns an XML syntax error into [`Error::MalformedFile`] with its line and column.
fn xml_error(file: &Path, text: &str, e: &roxmltree::Error) -> Error {
    use roxmltree::Error as X;
    // These errors are found at the end of the input, but roxmltree reports them at 1:1.
    let at_end = matches!(e, X::UnexpectedEndOfStream | X::UnclosedRootNode | X::NoRootNode);
    let (line, column) = if at_end {
        line_column(text, text.trim_end().len())
    } else {
        let pos = e.pos();
        (pos.row as usize, pos.col as usize)
    };
    let message = e.to_string();
    let reason = message.replace(&format!(" at {}", e.pos()), "");
    Error::MalformedFile { file: file.to_owned(), line, column, reason }
}

/// Resolves `${...}` expressions against overrides, the model, maven.config and the pom chain.
struct Resolver<'a> {
    file: PathBuf,
    overrides: &'a BTreeMap<String, String>,
    user: BTreeMap<String, String>,
    /// The pom, then its parents as far as they have been loaded.
    chain: Vec<Pom>,
    /// Whether the chain has been followed to its end.
    chain_done: bool,
}

impl Resolver<'_> {
    /// Replaces every `${name}` in `text`; `stack` holds the properties being resolved, to detect cycles.
    /// Text without a closing `}` is kept as it is, as Maven keeps it.
    fn interpolate(&mut self, text: &str, stack: &mut Vec<String>) -> Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else { break };
            out.push_str(&rest[..start]);
            let name = &rest[start + 2..start + 2 + len];
            rest = &rest[start + 3 + len..];
            if name.is_empty() {
                out.push_str("${}");
                continue;
            }
            if let Some(at) = stack.iter().position(|s| s == name) {
                let mut cycle = stack[at..].to_vec();
                cycle.push(name.to_owned());
                return Err(Error::PropertyCycle { cycle: cycle.join(" -> "), file: self.file.clone() });
            }
            let Some(value) = self.lookup(name)? else {
                return Err(Error::UnresolvedProperty { property: name.to_owned(), file: self.file.clone() });
            };
            stack.push(name.to_owned());
            let value = self.interpolate(&value, stack)?;
            stack.pop();
            out.push_str(&value);
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The raw (not yet interpolated) value of property `name`.
    fn lookup(&mut self, name: &str) -> Result<Option<String>> {
        if let Some(value) = self.overrides.get(name) {
            return Ok(Some(value.clone()));
        }
        let pom = &self.chain[0];
        let parent = pom.parent.as_ref();
        let model = match name.strip_prefix("project.").or_else(|| name.strip_prefix("pom.")) {
            Some("version") => Some(pom.version.clone().or_else(|| parent.and_then(|p| p.version.clone()))),
            Some("parent.version") => Some(parent.and_then(|p| p.version.clone())),
            Some("groupId") => Some(pom.effective_group_id().map(str::to_owned)),
            Some("artifactId") => Some(pom.artifact_id.clone()),
            Some("parent.groupId") => Some(parent.and_then(|p| p.group_id.clone())),
            Some("parent.artifactId") => Some(parent.and_then(|p| p.artifact_id.clone())),
            _ => None,
        };
        if let Some(value) = model {
            return Ok(value);
        }
        if let Some(value) = self.user.get(name) {
            return Ok(Some(value.clone()));
        }
        let mut i = 0;
        loop {
            if let Some(value) = self.chain[i].properties.get(name) {
                return Ok(Some(value.clone()));
            }
            i += 1;
            if i == self.chain.len() && !self.extend_chain()? {
                return Ok(None);
            }
        }
    }

    /// Loads the next parent pom; `false` when there is none.
    fn extend_chain(&mut self) -> Result<bool> {
        if self.chain_done || self.chain.len() > MAX_PARENTS {
            return Ok(false);
        }
        let last = self.chain.last().expect("the chain always holds the pom itself");
        match last.local_parent()? {
            Some(parent) => {
                self.chain.push(parent);
                Ok(true)
            }
            None => {
                self.chain_done = true;
                Ok(false)
            }
        }
    }
}

/// The `.mvn/maven.config` of the nearest ancestor directory of `pom` (itself included) that has `.mvn`.
fn find_maven_config(pom: &Path) -> Option<PathBuf> {
    let dir = pom.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    // Absolute, so the walk can go above a relative starting point.
    let dir = std::path::absolute(dir).ok()?;
    let mvn = dir.ancestors().map(|d| d.join(".mvn")).find(|mvn| mvn.is_dir())?;
    Some(mvn.join("maven.config")).filter(|config| config.is_file())
}

/// The user properties set in a maven.config: `-Dkey=value`, `-D key=value`, `--define=key=value`,
/// `--define key=value`; `-Dkey` alone sets `true`, as Maven's CLI does. Other options are ignored.
///
/// Arguments are split on whitespace with single and double quotes grouping, which is how every Maven
/// version reads a line of this file as long as values hold no spaces (version properties never do).
/// Lines starting with `#` are comments.
fn parse_maven_config(file: &Path, text: &str) -> Result<BTreeMap<String, String>> {
    let mut args = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        split_args(line, &mut args).map_err(|(column, reason)| Error::MalformedFile {
            file: file.to_owned(),
            line: index + 1,
            column,
            reason,
        })?;
    }
    let mut properties = BTreeMap::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let definition = if let Some(def) = arg.strip_prefix("--define=") {
            def.to_owned()
        } else if arg == "-D" || arg == "--define" {
            match args.next() {
                Some(def) => def,
                None => break,
            }
        } else if let Some(def) = arg.strip_prefix("-D") {
            def.to_owned()
        } else {
            continue;
        };
        match definition.split_once('=') {
            Some((key, value)) => properties.insert(key.to_owned(), value.to_owned()),
            None => properties.insert(definition, "true".to_owned()),
        };
    }
    Ok(properties)
}

/// Appends the arguments of one line; an unterminated quote is an error at its 1-based column.
fn split_args(line: &str, args: &mut Vec<String>) -> std::result::Result<(), (usize, String)> {
    let mut current: Option<String> = None;
    let mut quote: Option<(char, usize)> = None;
    for (column, c) in line.chars().enumerate().map(|(i, c)| (i + 1, c)) {
        match quote {
            Some((q, _)) if c == q => quote = None,
            Some(_) => current.get_or_insert_with(String::new).push(c),
            None if c == '"' || c == '\'' => {
                quote = Some((c, column));
                current.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => args.extend(current.take()),
            None => current.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some((q, column)) = quote {
        return Err((column, format!("the quote {q} opened here is never closed")));
    }
    args.extend(current);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs;

    /// A pom with the Maven namespace, the given `inner` XML inside `<project>`.
    fn pom(inner: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  \
             <modelVersion>4.0.0</modelVersion>\n{inner}\n</project>\n"
        )
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn pom_versions_resolve_like_maven() {
        struct Case {
            name: &'static str,
            pom: String,
            config: Option<&'static str>,
            overrides: &'static [(&'static str, &'static str)],
            expected: &'static str,
        }
        let plain = |name, pom, expected| Case { name, pom, config: None, overrides: &[], expected };
        let cases = [
            plain("plain", pom("<groupId>g</groupId><artifactId>a</artifactId><version>1.0.0</version>"), "1.0.0"),
            plain("whitespace around the version", pom("<version>\n    1.2.3\n  </version>"), "1.2.3"),
            plain(
                "inherited from the parent",
                pom("<parent><groupId>g</groupId><artifactId>p</artifactId><version>2.0.1</version></parent>\
                     <artifactId>a</artifactId>"),
                "2.0.1",
            ),
            plain(
                "own version wins over the parent's",
                pom("<parent><groupId>g</groupId><artifactId>p</artifactId><version>2.0.1</version></parent>\
                     <version>3.0.0</version>"),
                "3.0.0",
            ),
            plain(
                "revision from properties",
                pom("<version>${revision}</version><properties><revision>1.4.0</revision></properties>"),
                "1.4.0",
            ),
            plain(
                "ci-friendly trio with empty defaults",
                pom("<version>${revision}${sha1}${changelist}</version><properties><revision>1.4.0</revision>\
                     <sha1/><changelist>-SNAPSHOT</changelist></properties>"),
                "1.4.0-SNAPSHOT",
            ),
            plain(
                "nested properties",
                pom("<version>${major}.${minor}.0</version><properties><major>4</major>\
                     <minor>${minor.base}</minor><minor.base>2</minor.base></properties>"),
                "4.2.0",
            ),
            plain(
                "project.version in a property",
                pom("<version>5.0.0</version><properties><v>${project.version}</v></properties>"),
                "5.0.0",
            ),
            plain(
                "project.parent.version",
                pom("<parent><groupId>g</groupId><artifactId>p</artifactId><version>6.1</version></parent>\
                     <version>${project.parent.version}</version>"),
                "6.1",
            ),
            plain("unclosed expression kept", pom("<version>1.0-${oops</version>"), "1.0-${oops"),
            Case {
                name: "revision from maven.config beats properties",
                pom: pom("<version>${revision}${changelist}</version>\
                          <properties><revision>0.0.1</revision><changelist>-SNAPSHOT</changelist></properties>"),
                config: Some("-T 4\n-Drevision=1.5.0 -Dchangelist=\n--batch-mode\n"),
                overrides: &[],
                expected: "1.5.0",
            },
            Case {
                name: "maven.config long forms and quotes",
                pom: pom("<version>${revision}${sha1}</version>"),
                config: Some("# pinned by CI\n--define revision=\"2.0.0\" --define=sha1='-abc'\n"),
                overrides: &[],
                expected: "2.0.0-abc",
            },
            Case {
                name: "overrides beat maven.config and properties",
                pom: pom("<version>${revision}${changelist}</version>\
                          <properties><revision>0.0.1</revision><changelist>-SNAPSHOT</changelist></properties>"),
                config: Some("-Drevision=1.5.0"),
                overrides: &[("revision", "9.9.9"), ("changelist", "")],
                expected: "9.9.9",
            },
        ];
        for case in cases {
            let dir = tempfile::tempdir().unwrap();
            let file = write(dir.path(), "pom.xml", &case.pom);
            if let Some(config) = case.config {
                write(dir.path(), ".mvn/maven.config", config);
            }
            let version = read(&file, &overrides(case.overrides)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(version, case.expected, "{}", case.name);
        }
    }

    #[test]
    fn maven_config_is_found_in_an_ancestor_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".mvn/maven.config", "-Drevision=3.1.4\n");
        let module = write(dir.path(), "services/account/pom.xml", &pom("<version>${revision}</version>"));
        assert_eq!(read(&module, &BTreeMap::new()).unwrap(), "3.1.4");
    }

    #[test]
    fn properties_come_from_the_local_parent_pom() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pom.xml",
            &pom("<groupId>com.example</groupId><artifactId>root</artifactId><version>${revision}</version>\
                  <properties><revision>1.7.0</revision><changelist>-SNAPSHOT</changelist></properties>"),
        );
        let module = write(
            dir.path(),
            "account/pom.xml",
            &pom("<parent><groupId>com.example</groupId><artifactId>root</artifactId>\
                  <version>${revision}${changelist}</version></parent><artifactId>account</artifactId>"),
        );
        assert_eq!(read(&module, &BTreeMap::new()).unwrap(), "1.7.0-SNAPSHOT");
        // A child property beats the parent's, as in Maven's inheritance.
        let overriding = write(
            dir.path(),
            "billing/pom.xml",
            &pom("<parent><groupId>com.example</groupId><artifactId>root</artifactId>\
                  <version>${revision}${changelist}</version></parent><artifactId>billing</artifactId>\
                  <properties><changelist/></properties>"),
        );
        assert_eq!(read(&overriding, &BTreeMap::new()).unwrap(), "1.7.0");
    }

    #[test]
    fn a_parent_pom_with_other_coordinates_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pom.xml",
            &pom(
                "<groupId>other</groupId><artifactId>root</artifactId><properties><revision>1</revision></properties>",
            ),
        );
        let module = write(
            dir.path(),
            "m/pom.xml",
            &pom("<parent><groupId>com.example</groupId><artifactId>root</artifactId>\
                 <version>${revision}</version></parent>"),
        );
        let err = read(&module, &BTreeMap::new()).unwrap_err();
        assert!(matches!(&err, Error::UnresolvedProperty { property, .. } if property == "revision"), "{err}");
    }

    #[test]
    fn an_unresolved_property_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "pom.xml",
            &pom("<version>${revision}${sha1}</version><properties><revision>1</revision></properties>"),
        );
        let err = read(&file, &BTreeMap::new()).unwrap_err();
        match &err {
            Error::UnresolvedProperty { property, file: f } => {
                assert_eq!(property, "sha1");
                assert_eq!(f, &file);
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("${sha1}") && text.contains("-Dsha1="), "{text}");
    }

    #[test]
    fn a_property_cycle_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "pom.xml",
            &pom("<version>${a}</version><properties><a>${b}</a><b>x${a}</b></properties>"),
        );
        let err = read(&file, &BTreeMap::new()).unwrap_err();
        assert!(matches!(&err, Error::PropertyCycle { cycle, .. } if cycle == "a -> b -> a"), "{err}");
    }

    #[test]
    fn a_pom_without_a_version_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "pom.xml", &pom("<artifactId>a</artifactId>"));
        let err = read(&file, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("neither <version> nor <parent><version>"), "{err}");
        let empty = write(dir.path(), "empty/pom.xml", &pom("<version>${e}</version><properties><e/></properties>"));
        let err = read(&empty, &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
    }

    #[test]
    fn malformed_files_are_reported_with_line_and_column() {
        let rows = [
            ("mismatched tag", "<project>\n  <version>1.0</versio>\n</project>", 2, 15, "expected 'version' tag"),
            ("unclosed root", "<project>\n  <version>1.0</version>\n", 2, 25, "never closed"),
            ("not a pom", "<?xml version=\"1.0\"?>\n<settings/>", 2, 1, "root element is <settings>"),
        ];
        for (name, text, line, column, reason) in rows {
            let dir = tempfile::tempdir().unwrap();
            let file = write(dir.path(), "pom.xml", text);
            match read(&file, &BTreeMap::new()).unwrap_err() {
                Error::MalformedFile { line: l, column: c, reason: r, .. } => {
                    assert_eq!((l, c), (line, column), "{name}: {r}");
                    assert!(r.contains(reason), "{name}: {r}");
                    assert!(!r.contains(" at "), "{name}: position repeated in {r}");
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_maven_config_is_reported_with_line_and_column() {
        let err = parse_maven_config(Path::new("maven.config"), "-Da=1\n  -Drevision=\"1.0\n").unwrap_err();
        assert!(matches!(err, Error::MalformedFile { line: 2, column: 14, .. }), "{err:?}");
    }

    #[test]
    fn maven_config_flags_are_read_like_the_maven_cli() {
        let props =
            parse_maven_config(Path::new("m"), "-Dflag -D key=v -Dempty= -Dx=a=b --no-transfer-progress -D").unwrap();
        assert_eq!(props, overrides(&[("flag", "true"), ("key", "v"), ("empty", ""), ("x", "a=b")]));
    }

    #[test]
    fn the_seed_pom_gives_version_1_0_0() {
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/pom.xml");
        assert_eq!(read(&seed, &BTreeMap::new()).unwrap(), "1.0.0");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn pom_parsing_never_panics(inner in "[<>/a-z${}. \n]{0,60}") {
            let text = pom(&format!("<version>{inner}</version>"));
            if let Ok(pom) = Pom::parse(Path::new("pom.xml"), &text) {
                let no_overrides = BTreeMap::new();
                let mut resolver = Resolver {
                    file: "pom.xml".into(),
                    overrides: &no_overrides,
                    user: BTreeMap::new(),
                    chain: vec![pom],
                    chain_done: true,
                };
                let _ = resolver.interpolate(&inner, &mut Vec::new());
            }
            let _ = Pom::parse(Path::new("pom.xml"), &inner);
        }

        #[test]
        fn maven_config_parsing_never_panics(text in "[-Da-z=\"' \n#]{0,60}") {
            let _ = parse_maven_config(Path::new("maven.config"), &text);
        }
    }
}
