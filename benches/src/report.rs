//! The results of a run and BENCHMARKS.md, the page they are written to.
//!
//! Each comparison produces a [`Section`]: what was compared, the target, the verdict, the exact
//! commands, tables of medians with their spread and ratios, and notes (the explanation of a missed
//! target among them). The page adds the machine, the command that produced it and a summary.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use crate::machine::Machine;

/// How a comparison came out against its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "snake_case")]
pub enum Verdict {
    /// The target was met; the detail says by how much.
    Met(String),
    /// The target was missed; the detail says by how much.
    Missed(String),
    /// Nothing was measured; the detail says why (a command not available yet, a tool missing).
    NotMeasured(String),
    /// Measured, with no target to judge against.
    Info(String),
}

impl Verdict {
    fn label(&self) -> &'static str {
        match self {
            Verdict::Met(_) => "met",
            Verdict::Missed(_) => "**missed**",
            Verdict::NotMeasured(_) => "not measured",
            Verdict::Info(_) => "—",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Verdict::Met(d) | Verdict::Missed(d) | Verdict::NotMeasured(d) | Verdict::Info(d) => d,
        }
    }

    /// Met when `ok`, missed otherwise, with the same detail.
    pub fn judged(ok: bool, detail: String) -> Verdict {
        if ok { Verdict::Met(detail) } else { Verdict::Missed(detail) }
    }
}

/// A table of preformatted cells.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    /// A title above the table, if any.
    pub caption: Option<String>,
    /// The header row.
    pub headers: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers.
    pub fn new(headers: &[&str]) -> Self {
        Table { caption: None, headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// One comparison's results.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Its number in the issue's list (1–7).
    pub number: u8,
    /// Its title.
    pub title: String,
    /// What is measured and how, in a few sentences.
    pub method: String,
    /// The target, in words.
    pub target: String,
    /// How it came out.
    pub verdict: Verdict,
    /// The exact commands (or library calls) compared.
    pub commands: Vec<String>,
    /// The figures.
    pub tables: Vec<Table>,
    /// Explanations: why a target is missed, what is not ours, caveats.
    pub notes: Vec<String>,
    /// The raw figures, for the JSON file.
    pub data: Value,
    /// How long the comparison took, in seconds.
    pub seconds: f64,
}

impl Section {
    /// A section that measured nothing, with the reason.
    pub fn not_measured(number: u8, title: &str, target: &str, why: String) -> Section {
        Section {
            number,
            title: title.into(),
            method: String::new(),
            target: target.into(),
            verdict: Verdict::NotMeasured(why),
            commands: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
            data: Value::Null,
            seconds: 0.0,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command that produced it.
    pub command: String,
    /// When it started (UTC).
    pub started: String,
    /// The measurements' wall time, in seconds (builds excluded).
    pub seconds: f64,
    /// The time the build took, in seconds, when the command reported it.
    pub build_seconds: Option<f64>,
    /// Whether this was a quick run (fewer rounds).
    pub quick: bool,
    /// The machine.
    pub machine: Machine,
    /// The 1-minute load average when the run ended.
    pub load_at_end: String,
    /// Every comparison.
    pub sections: Vec<Section>,
}

/// BENCHMARKS.md.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `{}` on {}; the measurements took {}{}{}. Do not edit by hand: run the command again.\n",
        report.command,
        report.started,
        minutes(report.seconds),
        report.build_seconds.map(|b| format!(" after a {} build", minutes(b))).unwrap_or_default(),
        if report.quick { " (a `--quick` run: fewer rounds, rougher figures)" } else { "" },
    );
    out.push_str(
        "How to read it: every time is a median with the interquartile range (25th–75th percentile) in brackets, \
         over the number of runs shown. The tools compared run against the same sandbox state, alternating \
         within each round, in one run of the suite; comparisons are ratios of medians. The machine is shared \
         and noisy, so read the ratios, not the absolute times, and expect the absolute times to move between \
         runs. The sandbox (rollout-sandbox: the emulated Kubernetes API and ECR) runs inside the benchmark \
         process on the same cores as the tools, and counts every request it answers: that is where the \
         request counts come from.\n\n",
    );

    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "| # | comparison | target | result | verdict |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for s in &report.sections {
        let _ = writeln!(
            out,
            "| {} | [{}](#{}) | {} | {} | {} |",
            s.number,
            s.title,
            anchor(&format!("{}. {}", s.number, s.title)),
            cell(&s.target),
            cell(s.verdict.detail()),
            s.verdict.label()
        );
    }

    let _ = writeln!(out, "\n## Machine\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} |", cell(&m.cpu));
    let _ = writeln!(out, "| cores | {} |", m.cores);
    let _ = writeln!(out, "| memory | {:.1} GiB |", m.memory_gib);
    let _ = writeln!(out, "| OS | {} |", cell(&m.os));
    let _ = writeln!(
        out,
        "| load average (1, 5, 15 min) | {} at the start, {} at the end |",
        m.load_at_start, report.load_at_end
    );
    for (tool, version) in &m.tools {
        let _ = writeln!(out, "| {} | {} |", cell(tool), cell(version));
    }

    for s in &report.sections {
        let _ = writeln!(out, "\n## {}. {}\n", s.number, s.title);
        if !s.method.is_empty() {
            let _ = writeln!(out, "{}\n", s.method);
        }
        let _ =
            writeln!(out, "**Target:** {}. **Result:** {} ({}).\n", s.target, s.verdict.detail(), s.verdict.label());
        if !s.commands.is_empty() {
            let _ = writeln!(out, "Commands:\n\n```sh");
            for c in &s.commands {
                let _ = writeln!(out, "{c}");
            }
            let _ = writeln!(out, "```\n");
        }
        for t in &s.tables {
            if let Some(c) = &t.caption {
                let _ = writeln!(out, "{c}\n");
            }
            let _ = writeln!(out, "| {} |", t.headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(t.headers.len()));
            for r in &t.rows {
                let _ = writeln!(out, "| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
            }
            out.push('\n');
        }
        for n in &s.notes {
            let _ = writeln!(out, "- {n}");
        }
        if !s.notes.is_empty() {
            out.push('\n');
        }
        if s.seconds > 0.0 {
            let _ = writeln!(out, "_This comparison took {}._", minutes(s.seconds));
        }
    }

    let _ = writeln!(out, "\n## Running it\n");
    out.push_str(
        "```sh\n./scripts/bench                 # everything: builds in release mode, then runs all seven comparisons\n\
         ./scripts/bench --quick         # fewer rounds, for trying the suite out\n\
         ./scripts/bench --only 3,5      # some comparisons only (BENCHMARKS.md then holds only those)\n```\n\n\
         `scripts/bench` builds `rollout` and `rollout-bench` with `cargo build --release`, builds the Python module \
         with `maturin build --release` into its own virtualenv `.venv-bench` (with the pinned aws CLI), and runs \
         `target/release/rollout-bench run`. The raw figures of the last run are in `target/bench/results.json`.\n",
    );
    out
}

/// `4 min 10 s` or `37 s`.
pub fn minutes(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 60 { format!("{} min {} s", s / 60, s % 60) } else { format!("{s} s") }
}

/// A table cell: no line breaks, no unescaped pipes.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// GitHub's anchor for a heading.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_githubs_heading_rule() {
        assert_eq!(anchor("1. Status of a complete Deployment"), "1-status-of-a-complete-deployment");
        assert_eq!(anchor("7. CLI start-up"), "7-cli-start-up");
    }

    #[test]
    fn cells_keep_to_one_line_and_escape_pipes() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn durations_over_a_minute_read_in_minutes() {
        assert_eq!(minutes(37.4), "37 s");
        assert_eq!(minutes(250.0), "4 min 10 s");
    }
}
