//! Running the tools under comparison as processes, timed from spawn to exit, and alternating them.
//!
//! Our own timing loop instead of hyperfine, so the suite needs nothing a fresh machine lacks. A
//! process's time is measured from just before `spawn` to just after it has exited and its output
//! pipes are drained (both are captured, so neither tool pays for a terminal).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// One command line: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program, a path or a name looked up on `PATH`.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// How BENCHMARKS.md shows the program.
    pub shown: String,
}

impl Cmd {
    /// A command shown as it was given, relative to the working directory when inside it, so the page
    /// names exactly which binary ran (`/usr/lib/google-cloud-sdk/bin/kubectl.1.32`, `.venv-bench/bin/aws`).
    pub fn new(program: impl AsRef<Path>, args: &[&str]) -> Self {
        let program = program.as_ref().to_path_buf();
        let cwd = std::env::current_dir().unwrap_or_default();
        let shown = program.strip_prefix(&cwd).unwrap_or(&program).display().to_string();
        Cmd { program, args: args.iter().map(|a| a.to_string()).collect(), shown }
    }

    /// The command line as BENCHMARKS.md prints it, quoted for a POSIX shell.
    pub fn display(&self) -> String {
        std::iter::once(self.shown.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(quote)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// One finished process.
#[derive(Debug, Clone)]
pub struct Run {
    /// Just before the spawn.
    pub started: Instant,
    /// Just after the exit.
    pub ended: Instant,
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Run {
    /// From spawn to exit, in seconds.
    pub fn seconds(&self) -> f64 {
        (self.ended - self.started).as_secs_f64()
    }
}

/// Runs a command to its end with extra environment variables.
pub fn run(cmd: &Cmd, env: &[(String, String)]) -> Result<Run> {
    let mut command = Command::new(&cmd.program);
    command.args(&cmd.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let started = Instant::now();
    let output = command.output().with_context(|| format!("running {}", cmd.program.display()))?;
    let ended = Instant::now();
    Ok(Run {
        started,
        ended,
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs a command that must succeed.
pub fn run_ok(cmd: &Cmd, env: &[(String, String)]) -> Result<Run> {
    let r = run(cmd, env)?;
    if !r.success {
        bail!("`{}` failed: {}{}", cmd.display(), r.stderr.trim(), r.stdout.trim());
    }
    Ok(r)
}

/// Calls `f(round, contender)` for `warmup` untimed rounds and then `rounds` timed ones; each round
/// runs every contender once, starting one further along each round so no contender always goes
/// first (or always runs right after the same other one). `f` gets `round = None` for warm-up runs.
pub fn alternate(
    contenders: usize,
    warmup: usize,
    rounds: usize,
    mut f: impl FnMut(Option<usize>, usize) -> Result<()>,
) -> Result<()> {
    for r in 0..warmup + rounds {
        for k in 0..contenders {
            let c = (r + k) % contenders;
            f(r.checked_sub(warmup), c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_a_shell_would_split_are_quoted() {
        assert_eq!(quote("deploy/web"), "deploy/web");
        assert_eq!(quote("sort_by(imageDetails,& imagePushedAt)[-2]"), "'sort_by(imageDetails,& imagePushedAt)[-2]'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn each_round_starts_with_the_next_contender() {
        let mut order = Vec::new();
        alternate(3, 1, 2, |round, c| {
            order.push((round, c));
            Ok(())
        })
        .unwrap();
        let expected = [(None, 0), (None, 1), (None, 2), (Some(0), 1), (Some(0), 2), (Some(0), 0), (Some(1), 2)];
        assert_eq!(order[..7], expected);
        assert_eq!(order.len(), 9);
    }

    #[test]
    fn a_command_is_shown_as_given_relative_to_the_working_directory() {
        let cmd = Cmd::new("/usr/lib/google-cloud-sdk/bin/kubectl.1.32", &["rollout", "status", "deploy/web"]);
        assert_eq!(cmd.display(), "/usr/lib/google-cloud-sdk/bin/kubectl.1.32 rollout status deploy/web");
        let inside = std::env::current_dir().unwrap().join("target/release/rollout");
        assert_eq!(Cmd::new(inside, &["--version"]).display(), "target/release/rollout --version");
    }
}
