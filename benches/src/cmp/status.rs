//! Comparison 1: `rollout status D` against `kubectl rollout status deploy/D` on a Deployment whose
//! rollout is complete, so both only read and decide.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::{Ctx, TARGETS, TITLES, alternate_commands, wall_table};
use crate::cluster::Cluster;
use crate::procs::Cmd;
use crate::report::{Section, Verdict};
use crate::stats::Ratio;

const N: u8 = 1;

/// Runs the comparison.
pub fn run(ctx: &Ctx) -> Result<Section> {
    let (title, target) = (TITLES[0], TARGETS[0]);
    if !ctx.has_subcommand("status") {
        return Ok(Section::not_measured(N, title, target, "not measured: `rollout status` not available".into()));
    }
    if ctx.kubectls.is_empty() {
        return Ok(Section::not_measured(N, title, target, "not measured: kubectl not found".into()));
    }
    let cluster = Cluster::start(&ctx.rt, 0.01, &ctx.dir("status"))?;
    let name = "web".to_string();
    cluster.create_deployments(&ctx.rt, "default", std::slice::from_ref(&name), "registry.example/web:1.0.0", 3)?;
    cluster.wait_complete("default", std::slice::from_ref(&name), Duration::from_secs(60))?;

    let mut contenders = vec![("rollout".to_string(), ctx.rollout(&["status", &name]))];
    for (label, path) in &ctx.kubectls {
        let deploy = format!("deploy/{name}");
        contenders.push((label.clone(), Cmd::new(path, &["rollout", "status", &deploy])));
    }
    let kubectls = contenders.len();
    contenders.push(("rollout --watch=false".to_string(), ctx.rollout(&["status", &name, "--watch=false"])));
    let timed = alternate_commands(&cluster, &contenders, 2, ctx.rounds(20))?;

    let rollout = timed[0].median();
    let ratios: Vec<(String, Ratio)> = timed[1..kubectls]
        .iter()
        .filter_map(|t| Ratio::of(rollout, t.median()).map(|r| (t.label.clone(), r)))
        .collect();
    let worst = ratios.iter().map(|(_, r)| r.0).fold(0.0, f64::max);
    let detail = ratios.iter().map(|(l, r)| format!("{r} {l}")).collect::<Vec<_>>().join(", ");
    let mut notes = vec![format!(
        "The last outputs: rollout printed {:?}; kubectl printed {:?}.",
        timed[0].last.as_ref().map(|r| r.stdout.trim().to_string()).unwrap_or_default(),
        timed[1].last.as_ref().map(|r| r.stdout.trim().to_string()).unwrap_or_default()
    )];
    notes.push(
        "`rollout status` waits as `rollout deploy` does: one watch per kind of the namespace (Deployments, \
         ReplicaSets, pods, pod events, so a failing rollout is explained) and, once complete, the health mark on \
         the new ReplicaSet (the PATCH); some runs end before the pod and event watches are sent. The last row, \
         `--watch=false`, only reads the Deployment once, like `kubectl rollout status --watch=false`; the target \
         is judged on the first row."
            .into(),
    );
    notes.push(
        "kubectl reads its discovery cache from `KUBECACHEDIR` (warmed by the untimed rounds), as it would on a \
         workstation; rollout needs no discovery."
            .into(),
    );
    cluster.shutdown(&ctx.rt);
    Ok(Section {
        number: N,
        title: title.into(),
        method:
            "A Deployment of three replicas, rolled out and complete, in a sandbox; each tool asks for its rollout \
                 status. Two untimed rounds, then the tools alternate, each round starting with the next tool."
                .into(),
        target: target.into(),
        verdict: Verdict::judged(worst <= 0.3, detail),
        commands: contenders.iter().map(|(_, c)| c.display()).collect(),
        tables: vec![wall_table(&timed, true)],
        notes,
        data: json!({
            "wall_seconds": timed.iter().map(|t| (t.label.clone(), t.summary())).collect::<Vec<_>>(),
            "requests": timed.iter().map(|t| (t.label.clone(), t.requests.last().cloned())).collect::<Vec<_>>(),
        }),
        seconds: 0.0,
    })
}
