//! Comparison 7: start-up of each CLI, printing its version and nothing else.

use anyhow::Result;
use serde_json::json;

use super::{Ctx, TARGETS, TITLES, Timed, wall_table};
use crate::procs::{self, Cmd};
use crate::report::{Section, Verdict};
use crate::stats::Ratio;

const N: u8 = 7;

/// Runs the comparison.
pub fn run(ctx: &Ctx) -> Result<Section> {
    let mut contenders = vec![("rollout".to_string(), ctx.rollout(&["--version"]))];
    for (label, path) in &ctx.kubectls {
        contenders.push((label.clone(), Cmd::new(path, &["version", "--client"])));
    }
    let aws = Cmd::new(&ctx.aws, &["--version"]);
    let mut missing = Vec::new();
    if procs::run(&aws, &[]).is_ok_and(|r| r.success) {
        contenders.push(("aws CLI".into(), aws));
    } else {
        missing.push(format!("the aws CLI ({}) did not run", ctx.aws.display()));
    }
    let mut timed: Vec<Timed> = contenders.iter().map(|(l, _)| Timed::new(l)).collect();
    procs::alternate(contenders.len(), 2, ctx.rounds(20), |round, c| {
        let run = procs::run_ok(&contenders[c].1, &[])?;
        if round.is_some() {
            timed[c].wall.push_value(run.seconds());
            timed[c].last = Some(run);
        }
        Ok(())
    })?;
    let rollout = timed[0].median();
    let detail = timed[1..]
        .iter()
        .filter_map(|t| Ratio::of(rollout, t.median()).map(|r| format!("rollout {r} {}", t.label)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut notes: Vec<String> = missing;
    notes.push(
        "The aws CLI here is version 1 (Python, from the pinned requirements); its start-up is the interpreter's \
         plus botocore's imports."
            .into(),
    );
    Ok(Section {
        number: N,
        title: TITLES[6].into(),
        method: "Each CLI prints its version, no cluster or network involved: the cost of starting the program. Two \
                 untimed rounds, then the tools alternate."
            .into(),
        target: TARGETS[6].into(),
        verdict: Verdict::Info(detail),
        commands: contenders.iter().map(|(_, c)| c.display()).collect(),
        tables: vec![wall_table(&timed, false)],
        notes,
        data: json!({"wall_seconds": timed.iter().map(|t| (t.label.clone(), t.summary())).collect::<Vec<_>>()}),
        seconds: 0.0,
    })
}
