//! Comparison 4: many workloads at once. The library deploys and waits for 1, 10, 100 and 500
//! Deployments in one process (a child of this one, so its memory is its own), against a shell-style
//! loop of kubectl processes doing the same.
//!
//! Per round the sandbox side notes, for every Deployment, when its new generation appeared and when it
//! was complete, giving the slowest single rollout; the requests and watches are counted by the sandbox.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::Client;
use rollout_core::deploy::{DeployOptions, DeployRequest, deploy_all};
use rollout_core::report::Outcome;
use rollout_core::wait::no_progress;
use rollout_core::workload::WorkloadRef;
use rollout_sandbox::RequestCounts;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Ctx, TARGETS, TITLES};
use crate::cluster::{CONTAINER, Cluster, Track};
use crate::machine::own_memory_kib;
use crate::procs::{self, Cmd};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Ratio, Samples, sig3, time};

const N: u8 = 4;
/// Simulated time runs four times faster than real time: one rollout (pull 1 s, readiness after 5 s)
/// takes about 1.5 s, so rollout's own work is not hidden in a long wait nor drowned by a short one.
const TIME_SCALE: f64 = 0.25;
/// At 500 Deployments, kubectl's loop runs over this many of them (1,000 kubectl processes would take
/// minutes); its time is reported as measured and scaled to 500.
const KUBECTL_SUBSET: usize = 50;

/// Options of the `many-client` child.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The sandbox's kubeconfig.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// The namespace of the Deployments.
    #[arg(long)]
    namespace: String,
    /// How many Deployments (named d-0000, d-0001, …).
    #[arg(long)]
    count: usize,
    /// The new image of their container.
    #[arg(long)]
    image: String,
}

/// What the child reports.
#[derive(Debug, Serialize, Deserialize)]
struct ClientResult {
    /// The `deploy_all` call, in seconds.
    seconds: f64,
    /// Peak resident memory of the whole process, KiB.
    peak_rss_kib: u64,
    /// Workloads that succeeded.
    succeeded: usize,
    /// Outcomes that were not success.
    other: Vec<String>,
}

fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("d-{i:04}")).collect()
}

/// The child: deploy and wait for every Deployment with the library, print the figures as JSON.
pub fn client(args: ClientArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let client = Client::try_from(config)?;
        let set = format!("{CONTAINER}={}", args.image);
        let requests = names(args.count)
            .into_iter()
            .map(|n| Ok(DeployRequest::new(WorkloadRef::deployment(&args.namespace, n), vec![set.parse()?])))
            .collect::<Result<Vec<_>>>()?;
        let options = DeployOptions::new(Duration::from_secs(600));
        let started = Instant::now();
        let report = deploy_all(&[(String::new(), client)], &requests, &options, &no_progress).await?;
        let seconds = started.elapsed().as_secs_f64();
        let succeeded = report.reports.iter().filter(|r| r.outcome == Outcome::Succeeded).count();
        let other = report
            .reports
            .iter()
            .filter(|r| r.outcome != Outcome::Succeeded)
            .map(|r| format!("{}: {}: {}", r.target, r.outcome.as_str(), r.message))
            .collect();
        anyhow::Ok((seconds, succeeded, other))
    })?;
    drop(rt);
    let (peak_rss_kib, _) = own_memory_kib();
    let (seconds, succeeded, other) = result;
    println!("{}", serde_json::to_string(&ClientResult { seconds, peak_rss_kib, succeeded, other })?);
    Ok(())
}

/// One tool's figures at one size.
#[derive(Default)]
struct Figures {
    /// The tool's own wall time (rollout: the `deploy_all` call; kubectl: first spawn to last exit).
    wall: Samples,
    /// The slowest single rollout of the round, as the sandbox saw it.
    slowest: Samples,
    /// wall / slowest of each round.
    ratio: Samples,
    /// From the first Deployment's change to the last one's.
    spread: Samples,
    /// Peak RSS (rollout only), bytes.
    rss: Samples,
    /// The requests of the last round.
    requests: Option<RequestCounts>,
}

/// Runs the comparison.
pub fn run(ctx: &Ctx) -> Result<Section> {
    let (title, target) = (TITLES[3], TARGETS[3]);
    let Some((kubectl_label, kubectl)) = ctx.kubectls.first().cloned() else {
        return Ok(Section::not_measured(N, title, target, "not measured: kubectl not found".into()));
    };
    let cluster = Cluster::start(&ctx.rt, TIME_SCALE, &ctx.dir("many"))?;
    let sizes: Vec<(usize, usize)> = [(1, ctx.rounds(5)), (10, ctx.rounds(3)), (100, 2), (500, 2)]
        .into_iter()
        .filter(|(n, _)| ctx.many_sizes.is_empty() || ctx.many_sizes.contains(n))
        .collect();
    let image = |tag: usize| format!("registry.example/many:{tag}");
    for &(size, _) in &sizes {
        let ns = format!("many-{size}");
        cluster.create_namespace(&ctx.rt, &ns)?;
        cluster.create_deployments(&ctx.rt, &ns, &names(size), &image(0), 1)?;
    }
    for &(size, _) in &sizes {
        cluster.wait_complete(&format!("many-{size}"), &names(size), Duration::from_secs(300))?;
    }
    let kubeconfig = cluster.env.iter().find(|(k, _)| k == "KUBECONFIG").map(|(_, v)| v.clone()).unwrap_or_default();

    let mut table = Table::new(&[
        "Deployments",
        "tool",
        "wall time, median",
        "slowest single rollout",
        "wall / slowest",
        "changes spread over",
        "peak RSS",
        "requests",
        "watches",
    ]);
    let mut data = Vec::new();
    let mut ratio_500 = f64::NAN;
    let mut worst_ratio: f64 = 0.0;
    let mut rss_500 = f64::NAN;
    let mut one_watch_each = true;
    let mut tag = 1;
    for &(size, rounds) in &sizes {
        let ns = format!("many-{size}");
        let all = names(size);
        let subset: Vec<String> = all.iter().take(if size == 500 { KUBECTL_SUBSET } else { size }).cloned().collect();
        let mut figures = [Figures::default(), Figures::default()];
        let warmup = usize::from(size == 1);
        procs::alternate(2, warmup, rounds, |round, c| {
            let img = image(tag);
            tag += 1;
            let targets = if c == 0 { &all } else { &subset };
            let generations: Vec<i64> = targets.iter().map(|n| cluster.generation(&ns, n)).collect::<Result<_>>()?;
            let before = cluster.requests();
            let (wall, rss) = if c == 0 {
                let child = Cmd::new(
                    &ctx.exe,
                    &[
                        "many-client",
                        "--kubeconfig",
                        &kubeconfig,
                        "--namespace",
                        &ns,
                        "--count",
                        &size.to_string(),
                        "--image",
                        &img,
                    ],
                );
                let run = procs::run_ok(&child, &[])?;
                let result: ClientResult = serde_json::from_str(run.stdout.trim())
                    .with_context(|| format!("reading the many-client's output {:?}", run.stdout))?;
                if result.succeeded != size {
                    bail!("{} of {size} rollouts did not succeed: {:?}", size - result.succeeded, result.other);
                }
                (result.seconds, Some(result.peak_rss_kib as f64 * 1024.0))
            } else {
                let started = Instant::now();
                for n in targets {
                    let set = format!("{CONTAINER}={img}");
                    let cmd = Cmd::new(&kubectl, &["set", "image", &format!("deploy/{n}"), &set, "-n", &ns]);
                    procs::run_ok(&cmd, &cluster.env)?;
                }
                for n in targets {
                    let cmd =
                        Cmd::new(&kubectl, &["rollout", "status", &format!("deploy/{n}"), "-n", &ns, "--timeout=600s"]);
                    procs::run_ok(&cmd, &cluster.env)?;
                }
                (started.elapsed().as_secs_f64(), None)
            };
            let requests = cluster.requests().since(&before);
            let deadline = Instant::now() + Duration::from_secs(120);
            let tracks: Vec<Track> = targets
                .iter()
                .zip(&generations)
                .map(|(n, g)| cluster.tracker.wait_complete(&ns, n, g + 1, deadline))
                .collect::<Result<_>>()?;
            if round.is_none() {
                return Ok(());
            }
            let slowest = tracks.iter().filter_map(Track::duration).max().unwrap_or_default().as_secs_f64();
            let first = tracks.iter().map(|t| t.updated_at).min();
            let last = tracks.iter().map(|t| t.updated_at).max();
            let f = &mut figures[c];
            f.wall.push_value(wall);
            f.slowest.push_value(slowest);
            if let Some(r) = Ratio::of(wall, slowest) {
                f.ratio.push_value(r.0);
            }
            if let (Some(first), Some(last)) = (first, last) {
                f.spread.push(last - first);
            }
            if let Some(rss) = rss {
                f.rss.push_value(rss);
            }
            f.requests = Some(requests);
            eprintln!(
                "  {size} Deployments, {}: {} (slowest rollout {})",
                ["rollout", "kubectl"][c],
                time(wall),
                time(slowest)
            );
            Ok(())
        })?;

        for (c, f) in figures.iter().enumerate() {
            let med = |s: &Samples| s.summary().map(|s| s.median);
            let watches = f.requests.as_ref().map_or("–".into(), |r| {
                let w: Vec<String> = r
                    .by_kind
                    .iter()
                    .filter(|(k, _)| k.starts_with("watch "))
                    .map(|(k, n)| format!("{} ×{n}", &k["watch ".len()..]))
                    .collect();
                format!("{} ({})", r.starting_with("watch "), w.join(", "))
            });
            let tool = if c == 0 {
                "rollout (library, one process)".to_string()
            } else if size == 500 {
                format!("{kubectl_label} loop over {KUBECTL_SUBSET} of them")
            } else {
                format!("{kubectl_label} loop")
            };
            table.row(vec![
                size.to_string(),
                tool,
                f.wall.summary().map_or("–".into(), |s| s.time()),
                f.slowest.summary().map_or("–".into(), |s| s.time()),
                med(&f.ratio).map_or("–".into(), |r| format!("{}×", sig3(r))),
                f.spread.summary().map_or("–".into(), |s| time(s.median)),
                med(&f.rss).map_or("–".into(), |b| format!("{} MB", sig3(b / 1e6))),
                f.requests.as_ref().map_or("–".into(), |r| r.total().to_string()),
                watches,
            ]);
            if c == 0 {
                let r = med(&f.ratio).unwrap_or(f64::NAN);
                worst_ratio = worst_ratio.max(r);
                if size == 500 {
                    ratio_500 = r;
                    rss_500 = med(&f.rss).unwrap_or(f64::NAN);
                }
                if let Some(req) = &f.requests {
                    one_watch_each &= req.by_kind.iter().filter(|(k, _)| k.starts_with("watch ")).all(|(_, n)| *n == 1);
                }
            }
            data.push(json!({
                "deployments": size,
                "tool": if c == 0 { "rollout" } else { "kubectl" },
                "measured_deployments": if c == 0 || size != 500 { size } else { KUBECTL_SUBSET },
                "wall": f.wall.summary(),
                "slowest_rollout": f.slowest.summary(),
                "ratio": f.ratio.summary(),
                "spread": f.spread.summary(),
                "peak_rss_bytes": f.rss.summary(),
                "requests": f.requests,
            }));
        }
        if size == 500
            && let (Some(k), Some(r)) = (figures[1].wall.summary(), figures[0].wall.summary())
        {
            let scaled = k.median * (500.0 / KUBECTL_SUBSET as f64);
            table.row(vec![
                "500".into(),
                format!("{kubectl_label} loop, scaled from {KUBECTL_SUBSET} to 500"),
                format!("≈ {}", time(scaled)),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                format!("≈ {}× rollout's time", sig3(scaled / r.median)),
            ]);
        }
    }
    cluster.shutdown(&ctx.rt);
    let ok = worst_ratio <= 1.1 && rss_500 <= 100e6 && one_watch_each;
    let detail = format!(
        "wall / slowest rollout {}× at 500 ({}× at worst); peak RSS {} MB at 500; {}",
        sig3(ratio_500),
        sig3(worst_ratio),
        sig3(rss_500 / 1e6),
        if one_watch_each { "one watch per kind" } else { "more than one watch of a kind" }
    );
    Ok(Section {
        number: N,
        title: title.into(),
        method: format!(
            "Namespaces of 1, 10, 100 and 500 Deployments of one replica each, shaped like the seed's, on a clock \
             running {}× real time, so one rollout takes about 1.5 s. Each round gives every Deployment of a \
             namespace a new image and waits for all of them. rollout: one `deploy_all` call of the library in a \
             child process (default options: 16 reads and writes at a time, one watch per namespace and kind); its \
             wall time is the call's, its peak RSS the whole process's. kubectl: `set image` for each Deployment, \
             then `rollout status` for each, one process at a time, as a shell loop would. The slowest single \
             rollout is the longest time, among the round's Deployments, from the sandbox holding the new generation \
             to it holding the rollout complete. Tools alternate; one untimed round at size 1.",
            1.0 / TIME_SCALE
        ),
        target: target.into(),
        verdict: Verdict::judged(ok, detail),
        commands: vec![
            "rollout_core::deploy::deploy_all(&[(\"\", client)], &[DeployRequest::new(WorkloadRef::deployment(\"many-N\", \"d-0000\"), vec![\"app=registry.example/many:T\".parse()?]), …], &DeployOptions::new(Duration::from_secs(600)), &no_progress)   # in: rollout-bench many-client --namespace many-N --count N --image registry.example/many:T".into(),
            format!("for d in d-0000 … ; do {} set image deploy/$d app=registry.example/many:T -n many-N; done", kubectl.display()),
            format!("for d in d-0000 … ; do {} rollout status deploy/$d -n many-N --timeout=600s; done", kubectl.display()),
        ],
        tables: vec![table],
        notes: vec![format!(
            "kubectl's loop at 500 covers the first {KUBECTL_SUBSET} Deployments only (1,000 processes take minutes on \
             two cores); the scaled row multiplies its time by {}. kubectl's memory is not measured (one short process \
             per Deployment).",
            500 / KUBECTL_SUBSET
        )],
        data: json!(data),
        seconds: 0.0,
    })
}
