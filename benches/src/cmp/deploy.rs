//! Comparison 2: deploy and wait. `rollout deploy D --image … --timeout …` against
//! `kubectl set image … && kubectl rollout status …`, timing how long each takes to exit after the
//! sandbox has marked the rollout complete (the reaction latency).
//!
//! The instant of completion is taken on the sandbox side, by the tracker following the store's
//! change feed; the instant of exit is when the waiting process has exited. Both are read from the
//! same monotonic clock in this process.

use std::time::{Duration, Instant};

use anyhow::Result;
use rollout_sandbox::PushOptions;
use serde_json::json;

use super::{Ctx, TARGETS, TITLES};
use crate::cluster::{CONTAINER, Cluster};
use crate::probe::WatchProbe;
use crate::procs::{self, Cmd};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Samples, time};

const N: u8 = 2;
const NAME: &str = "web";
const REPOSITORY: &str = "web";
/// Simulated seconds last 0.1 s: a rollout of two pods (pull 1 s, readiness after 5 s, one at a time)
/// takes about 1.2 s, long enough for kubectl's second process to be waiting when it completes.
const TIME_SCALE: f64 = 0.1;

struct Contender {
    label: String,
    reaction: Samples,
    /// From completion to a bare watch client seeing it (the sandbox's share of the reaction).
    delivery: Samples,
    /// From the bare watch client seeing it to the tool's exit (the tool's share).
    own: Samples,
    wall: Samples,
    rollout: Samples,
    requests: Samples,
    /// Runs whose waiting process started only after the rollout was complete (not counted as reactions).
    late: usize,
}

/// Runs the comparison.
pub fn run(ctx: &Ctx) -> Result<Section> {
    let (title, target) = (TITLES[1], TARGETS[1]);
    if !ctx.has_subcommand("deploy") {
        return Ok(Section::not_measured(N, title, target, "not measured: `rollout deploy` not available".into()));
    }
    let Some((kubectl_label, kubectl)) = ctx.kubectls.first().cloned() else {
        return Ok(Section::not_measured(N, title, target, "not measured: kubectl not found".into()));
    };
    let cluster = Cluster::start(&ctx.rt, TIME_SCALE, &ctx.dir("deploy"))?;
    let (warmup, rounds) = (1, ctx.rounds(10));
    let runs = 2 * (warmup + rounds) + 1;
    let ecr = cluster.sandbox.ecr();
    ecr.create_repository(REPOSITORY).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let tags: Vec<String> = (0..runs).map(|i| format!("1.0.{i}")).collect();
    for tag in &tags {
        ecr.push_image(REPOSITORY, &[tag.as_str()], PushOptions::default()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let names = [NAME.to_string()];
    cluster.create_deployments(&ctx.rt, "default", &names, &cluster.ecr_image(REPOSITORY, &tags[0]), 2)?;
    cluster.wait_complete("default", &names, Duration::from_secs(60))?;
    let probe = WatchProbe::start(cluster.sandbox.addr(), "default", NAME)?;

    let deploy_cmd = |image: &str| ctx.rollout(&["deploy", NAME, "--image", image, "--timeout", "120s"]);
    let set_cmd = |image: &str| {
        let set = format!("{CONTAINER}={image}");
        Cmd::new(&kubectl, &["set", "image", &format!("deploy/{NAME}"), &set])
    };
    let status_cmd = Cmd::new(&kubectl, &["rollout", "status", &format!("deploy/{NAME}"), "--timeout=120s"]);

    let mut contenders: Vec<Contender> = ["rollout".to_string(), kubectl_label.clone()]
        .into_iter()
        .map(|label| Contender {
            label,
            reaction: Samples::new(),
            delivery: Samples::new(),
            own: Samples::new(),
            wall: Samples::new(),
            rollout: Samples::new(),
            requests: Samples::new(),
            late: 0,
        })
        .collect();
    let mut next_tag = 1;
    procs::alternate(2, warmup, rounds, |round, c| {
        let image = cluster.ecr_image(REPOSITORY, &tags[next_tag]);
        next_tag += 1;
        let generation = cluster.generation("default", NAME)?;
        let before = cluster.requests();
        let (started, waiter) = if c == 0 {
            let run = procs::run_ok(&deploy_cmd(&image), &cluster.env)?;
            (run.started, run)
        } else {
            let set = procs::run_ok(&set_cmd(&image), &cluster.env)?;
            let status = procs::run_ok(&status_cmd, &cluster.env)?;
            (set.started, status)
        };
        let requests = cluster.requests().since(&before);
        let deadline = Instant::now() + Duration::from_secs(60);
        let track = cluster.tracker.wait_complete("default", NAME, generation + 1, deadline)?;
        if round.is_none() {
            return Ok(()); // warm-up
        }
        let completed = track.completed_at.unwrap_or(waiter.ended);
        let k = &mut contenders[c];
        if completed < waiter.started {
            k.late += 1;
        } else {
            k.reaction.push(waiter.ended.saturating_duration_since(completed));
            if let Some(seen) = probe.completed(generation + 1, deadline) {
                k.delivery.push(seen.saturating_duration_since(completed));
                k.own.push(waiter.ended.saturating_duration_since(seen));
            }
        }
        k.wall.push(waiter.ended - started);
        k.rollout.push(track.duration().unwrap_or_default());
        k.requests.push_value(requests.total() as f64);
        Ok(())
    })?;
    cluster.shutdown(&ctx.rt);

    let mut table = Table::new(&[
        "tool",
        "reaction: complete → exit, median (IQR)",
        "min",
        "of which: sandbox → a bare watch client",
        "of which: that client → the tool's exit",
        "whole command, median (IQR)",
        "the rollout itself (sandbox)",
        "requests per run",
        "runs (late)",
    ]);
    for k in &contenders {
        let cell = |s: &Samples| s.summary().map_or("–".into(), |s| s.time());
        table.row(vec![
            k.label.clone(),
            cell(&k.reaction),
            k.reaction.summary().map_or("–".into(), |s| time(s.min)),
            k.delivery.summary().map_or("–".into(), |s| time(s.median)),
            k.own.summary().map_or("–".into(), |s| time(s.median)),
            cell(&k.wall),
            cell(&k.rollout),
            k.requests.summary().map_or("–".into(), |s| super::count(s.median)),
            format!("{} ({})", k.wall.len(), k.late),
        ]);
    }
    let ours = contenders[0].reaction.summary();
    let verdict = match ours {
        Some(s) => Verdict::judged(
            s.median <= 0.005,
            format!(
                "rollout reacts in {} median, {} in {}",
                time(s.median),
                contenders[1].label,
                contenders[1].reaction.summary().map_or("–".into(), |s| time(s.median))
            ),
        ),
        None => Verdict::NotMeasured("not measured: no rollout run was waiting when its rollout completed".into()),
    };
    let data = json!(
        contenders
            .iter()
            .map(|k| json!({
                "tool": k.label,
                "reaction": k.reaction.summary(),
            "delivery": k.delivery.summary(),
            "own": k.own.summary(),
                "wall": k.wall.summary(),
                "rollout": k.rollout.summary(),
                "late": k.late,
            }))
            .collect::<Vec<_>>()
    );
    Ok(Section {
        number: N,
        title: title.into(),
        method: format!(
            "A Deployment of two replicas shaped like the seed's (readiness after 5 s, one pod surged at a time) with \
             images in the sandbox ECR, on a clock running {}× real time, so each rollout takes about a second. \
             Each run sets a new image and waits; the reaction is the time from the moment the sandbox's store holds \
             the Deployment complete (kubectl's rule) to the moment the waiting process has exited. A run whose \
             waiting process started after completion would not measure a reaction and is counted as late. One \
             untimed round, then the tools alternate.",
            1.0 / TIME_SCALE
        ),
        target: target.into(),
        verdict,
        commands: vec![
            deploy_cmd(&cluster_image_placeholder()).display(),
            format!("{} && {}", set_cmd(&cluster_image_placeholder()).display(), status_cmd.display()),
        ],
        tables: vec![table],
        notes: vec![
            "The reaction is split with a bare watch client (a thread of the benchmark reading the same Deployment's \
             watch over plain HTTP): the first part is the sandbox's, from its store to a watcher's socket, the \
             same for every tool; the second is the tool's own, from the event on the wire to its exit."
                .into(),
            "rollout's reaction includes its last write: marking the new ReplicaSet healthy for later rollbacks to \
             the last known good release, one PATCH after the rollout is complete."
                .into(),
        ],
        data,
        seconds: 0.0,
    })
}

fn cluster_image_placeholder() -> String {
    "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/web:1.0.N".into()
}
