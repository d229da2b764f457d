//! Where output goes: the result on stdout (text, or exactly one JSON document), everything else
//! (progress, warnings, notes) on stderr.

use std::io::{self, Write};

use serde::Serialize;

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Text,
    /// One JSON document: the report rollout-core produced.
    Json,
}

/// The output settings of one invocation.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// Text or JSON on stdout.
    pub format: Format,
    /// `-q`: no notes on stderr.
    pub quiet: bool,
}

impl Out {
    /// Prints the result: `text` in text mode, `value` serialised in JSON mode.
    pub fn result<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        match self.format {
            Format::Json => {
                // Serialised first, so that a closed stdout surfaces as the io::Error it is (exit 0 on
                // `| head`), not wrapped in a serde error.
                let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
                writeln!(stdout, "{text}")
            }
            Format::Text => {
                let t = text();
                if t.is_empty() { Ok(()) } else { writeln!(stdout, "{}", t.trim_end_matches('\n')) }
            }
        }
    }

    /// A note for people on stderr, unless `-q`.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A warning on stderr (shown even with `-q`).
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!("warning: {}", msg.as_ref());
    }
}

/// In JSON mode, a line on stderr for each rollout that did not succeed, so a person reading a CI
/// log sees why without parsing stdout (in text mode the failure block on stdout says it).
pub fn failed_rollouts(out: Out, report: &rollout_core::report::CombinedReport) {
    if out.format != Format::Json {
        return;
    }
    for r in report.reports.iter().filter(|r| !r.outcome.is_success()) {
        eprintln!("error: {}", r.summary());
    }
}
