//! The git reader: tag description, commit, branch and dirty flag of a work tree.
//!
//! git runs as a child process with an argument vector — never through a shell, and nothing the user
//! wrote becomes part of a command line: the directory is the process's working directory, not an
//! argument. `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE` are removed from git's environment so the
//! answer is about the directory asked for even when rollout itself runs inside a git hook;
//! `GIT_OPTIONAL_LOCKS=0` keeps `git status` from writing the index, and `LC_ALL=C` keeps git's messages
//! in English for the errors we pass on.
//!
//! On a detached HEAD (how most CI systems check out) [`GitInfo::branch`] is `None`: this module reads no
//! CI variables, so its answer depends only on the repository. [`branch_from_ci_env`] is the separate,
//! pure helper the CLI and Python faces use to fill the branch from `GITHUB_REF_NAME` and its peers.

use std::path::Path;
use std::process::{Command, Output};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Length of [`GitInfo::short_sha`]: a fixed prefix, so the same commit always gives the same tag
/// (git's own `--short` grows with the repository), as docker/metadata-action's `type=sha` does.
pub const SHORT_SHA_LEN: usize = 7;

/// The state of a git work tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    /// `git describe --tags --always --dirty`: the nearest tag, commits since and abbreviated commit
    /// (`v1.2.0-3-gabc1234`), the abbreviated commit alone when there is no tag, `-dirty` when modified.
    pub describe: String,
    /// The full commit id of HEAD.
    pub sha: String,
    /// The first 7 characters of [`GitInfo::sha`].
    pub short_sha: String,
    /// The checked-out branch; `None` on a detached HEAD.
    pub branch: Option<String>,
    /// Whether tracked files have uncommitted changes (untracked files do not count, as for `describe --dirty`).
    pub dirty: bool,
}

/// Reads the git state of the work tree containing `dir`.
pub fn read_git(dir: &Path) -> Result<GitInfo> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let sha = stdout(dir, &["rev-parse", "--verify", "HEAD"])?;
    let describe = stdout(dir, &["describe", "--tags", "--always", "--dirty"])?;
    let branch_args = ["symbolic-ref", "--quiet", "--short", "HEAD"];
    let branch = match run(dir, &branch_args)? {
        out if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        // Exit status 1 with --quiet means HEAD is not a symbolic ref: a detached HEAD.
        out if out.status.code() == Some(1) => None,
        out => return Err(failure(dir, &branch_args, &out)),
    };
    let dirty = !stdout(dir, &["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    let short_sha = sha.chars().take(SHORT_SHA_LEN).collect();
    Ok(GitInfo { describe, sha, short_sha, branch, dirty })
}

/// Whether `dir` is inside a git work tree (false too when git cannot run).
pub(super) fn is_work_tree(dir: &Path) -> bool {
    run(dir, &["rev-parse", "--is-inside-work-tree"])
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"true")
}

fn run(dir: &Path, args: &[&str]) -> Result<Output> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| Error::Git {
            args: args.join(" "),
            dir: dir.to_owned(),
            reason: "could not run git; is it installed and on PATH?".into(),
            source: Some(source),
        })
}

fn stdout(dir: &Path, args: &[&str]) -> Result<String> {
    let out = run(dir, args)?;
    if !out.status.success() {
        return Err(failure(dir, args, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn failure(dir: &Path, args: &[&str], out: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
    let message = message.strip_prefix("fatal: ").unwrap_or(message);
    let reason =
        if args.first() == Some(&"rev-parse") && (message.contains("HEAD") || message.contains("single revision")) {
            format!("{message} (the repository has no commit yet)")
        } else {
            format!("{message} ({})", out.status)
        };
    Error::Git { args: args.join(" "), dir: dir.to_owned(), reason, source: None }
}

/// The branch a CI job builds, from the variables CI systems set, for a checkout with a detached HEAD.
///
/// `get` looks a variable up (the faces pass `|k| std::env::var(k).ok()`; tests pass a map). Checked in
/// this order, first non-empty wins:
///
/// | variable | set by |
/// |---|---|
/// | `GITHUB_HEAD_REF` | GitHub Actions, the source branch of a pull request |
/// | `GITHUB_REF_NAME` when `GITHUB_REF_TYPE` is `branch` | GitHub Actions, pushes |
/// | `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`, `CI_COMMIT_BRANCH` | GitLab CI |
/// | `BITBUCKET_BRANCH`, `BUILDKITE_BRANCH`, `CIRCLE_BRANCH` | Bitbucket Pipelines, Buildkite, CircleCI |
/// | `CODEBUILD_WEBHOOK_HEAD_REF` (`refs/heads/` removed) | AWS CodeBuild |
/// | `BRANCH_NAME`, then `GIT_BRANCH` (`origin/` removed) | Jenkins |
pub fn branch_from_ci_env(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    var("GITHUB_HEAD_REF")
        .or_else(|| var("GITHUB_REF_NAME").filter(|_| var("GITHUB_REF_TYPE").as_deref() == Some("branch")))
        .or_else(|| var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"))
        .or_else(|| var("CI_COMMIT_BRANCH"))
        .or_else(|| var("BITBUCKET_BRANCH"))
        .or_else(|| var("BUILDKITE_BRANCH"))
        .or_else(|| var("CIRCLE_BRANCH"))
        .or_else(|| var("CODEBUILD_WEBHOOK_HEAD_REF").map(|r| r.strip_prefix("refs/heads/").unwrap_or(&r).to_owned()))
        .or_else(|| var("BRANCH_NAME"))
        .or_else(|| var("GIT_BRANCH").map(|b| b.strip_prefix("origin/").unwrap_or(&b).to_owned()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// Runs git in `dir` for a test, failing the test on error.
    pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
        let out = run(dir, args).unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new repository on branch `main` with one committed file, its own identity and no signing.
    pub(crate) fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        git(path, &["init", "--quiet", "--initial-branch=main"]);
        git(path, &["config", "user.name", "Rollout Test"]);
        git(path, &["config", "user.email", "test@example.com"]);
        git(path, &["config", "commit.gpgsign", "false"]);
        git(path, &["config", "tag.gpgsign", "false"]);
        std::fs::write(path.join("README"), "hello\n").unwrap();
        git(path, &["add", "README"]);
        git(path, &["commit", "--quiet", "-m", "first"]);
        dir
    }

    #[test]
    fn git_state_is_read_from_a_repository() {
        let dir = repo();
        let path = dir.path();
        let sha = git(path, &["rev-parse", "HEAD"]);

        let info = read_git(path).unwrap();
        assert_eq!(info.sha, sha);
        assert_eq!(info.short_sha, sha[..7]);
        assert_eq!(info.describe, git(path, &["rev-parse", "--short", "HEAD"]), "no tag: the abbreviated commit");
        assert_eq!(info.branch.as_deref(), Some("main"));
        assert!(!info.dirty);

        git(path, &["tag", "-a", "v1.2.0", "-m", "release"]);
        assert_eq!(read_git(path).unwrap().describe, "v1.2.0");

        std::fs::write(path.join("README"), "changed\n").unwrap();
        let dirty = read_git(path).unwrap();
        assert!(dirty.dirty);
        assert_eq!(dirty.describe, "v1.2.0-dirty");
        git(path, &["commit", "--quiet", "-am", "second"]);
        let ahead = read_git(path).unwrap();
        assert!(ahead.describe.starts_with("v1.2.0-1-g"), "{}", ahead.describe);
        assert!(!ahead.dirty);

        std::fs::write(path.join("untracked"), "x").unwrap();
        assert!(!read_git(path).unwrap().dirty, "untracked files do not make the tree dirty");
    }

    #[test]
    fn a_detached_head_has_no_branch() {
        let dir = repo();
        git(dir.path(), &["checkout", "--quiet", "--detach"]);
        assert_eq!(read_git(dir.path()).unwrap().branch, None);
    }

    #[test]
    fn branches_with_slashes_are_reported_whole() {
        let dir = repo();
        git(dir.path(), &["checkout", "--quiet", "-b", "feature/login"]);
        assert_eq!(read_git(dir.path()).unwrap().branch.as_deref(), Some("feature/login"));
    }

    #[test]
    fn a_subdirectory_reads_its_repository() {
        let dir = repo();
        let sub = dir.path().join("services/account");
        std::fs::create_dir_all(&sub).unwrap();
        assert!(is_work_tree(&sub));
        assert_eq!(read_git(&sub).unwrap().branch.as_deref(), Some("main"));
    }

    #[test]
    fn git_errors_say_why() {
        let empty = tempfile::tempdir().unwrap();
        assert!(!is_work_tree(empty.path()));
        let err = read_git(empty.path()).unwrap_err().to_string();
        assert!(err.contains("not a git repository"), "{err}");

        git(empty.path(), &["init", "--quiet"]);
        let err = read_git(empty.path()).unwrap_err().to_string();
        assert!(err.contains("no commit yet"), "{err}");

        let missing = PathBuf::from("/nonexistent/rollout/dir");
        assert!(matches!(read_git(&missing).unwrap_err(), Error::Git { source: Some(_), .. }));
    }

    #[test]
    fn ci_variables_give_the_branch_of_a_detached_checkout() {
        type Vars = &'static [(&'static str, &'static str)];
        let rows: [(Vars, Option<&str>); 8] = [
            (&[], None),
            (&[("GITHUB_REF_NAME", "main"), ("GITHUB_REF_TYPE", "branch")], Some("main")),
            (&[("GITHUB_REF_NAME", "v1.0.0"), ("GITHUB_REF_TYPE", "tag")], None),
            (
                &[("GITHUB_HEAD_REF", "feature/x"), ("GITHUB_REF_NAME", "12/merge"), ("GITHUB_REF_TYPE", "branch")],
                Some("feature/x"),
            ),
            (&[("GITHUB_HEAD_REF", ""), ("CI_COMMIT_BRANCH", "develop")], Some("develop")),
            (&[("CODEBUILD_WEBHOOK_HEAD_REF", "refs/heads/release/2")], Some("release/2")),
            (&[("GIT_BRANCH", "origin/hotfix")], Some("hotfix")),
            (&[("BRANCH_NAME", "jenkins"), ("GIT_BRANCH", "origin/other")], Some("jenkins")),
        ];
        for (vars, expected) in rows {
            let env: BTreeMap<&str, &str> = vars.iter().copied().collect();
            let branch = branch_from_ci_env(|k| env.get(k).map(|v| v.to_string()));
            assert_eq!(branch.as_deref(), expected, "{vars:?}");
        }
    }
}
