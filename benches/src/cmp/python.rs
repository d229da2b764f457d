//! Comparison 6: the cost of calling rollout from Python. The same calls are timed in Rust, in this
//! process, and in Python, in one long-lived interpreter (`benches/python_calls.py`), batch after batch
//! alternating; the overhead is the difference of the medians. Also the time `import rollout` takes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use rollout_core::clients::KubeOptions;
use rollout_core::lifecycle::{LifecyclePolicy, preview};
use rollout_core::tag::{DeriveOptions, derive_tag};
use rollout_core::wait::current_status;
use rollout_core::workload::WorkloadRef;
use serde_json::{Value, json};

use super::lifecycle::synthetic_images;
use super::{Ctx, TARGETS, TITLES};
use crate::cluster::Cluster;
use crate::procs::{self, Cmd};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Samples, sig3, time};

const N: u8 = 6;
const TEMPLATE: &str = "latest-release-{version}";
const DEPLOYMENT: &str = "web";

/// The Python co-process.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn start(python: &Path, script: &Path) -> Result<Python> {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        Ok(Python { child, stdin, stdout })
    }

    fn ask(&mut self, request: &Value) -> Result<Value> {
        writeln!(self.stdin, "{request}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the Python side ended without answering {request}");
        }
        let reply: Value = serde_json::from_str(&line)?;
        if reply["ok"] != true {
            bail!("the Python side failed: {}", reply["error"]);
        }
        Ok(reply)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"op": "quit"}));
        let _ = self.child.wait();
    }
}

/// One call's figures.
struct Call<'a> {
    name: &'static str,
    python: String,
    rust: String,
    batch: usize,
    run_rust: Box<dyn FnMut() -> Result<()> + 'a>,
    py: Samples,
    rs: Samples,
}

/// One call's figures, once measured.
struct Done {
    name: &'static str,
    python: String,
    rust: String,
    rs: Samples,
    py: Samples,
}

impl Call<'_> {
    /// Times a batch of the Rust call, each call on its own.
    fn time_rust(&mut self) -> Result<Vec<Duration>> {
        let mut out = Vec::with_capacity(self.batch);
        for _ in 0..self.batch {
            let t = Instant::now();
            (self.run_rust)()?;
            out.push(t.elapsed());
        }
        Ok(out)
    }
}

/// Runs the comparison.
pub fn run(ctx: &Ctx) -> Result<Section> {
    let (title, target) = (TITLES[5], TARGETS[5]);
    let probe = Cmd::new(&ctx.python, &["-c", "import rollout"]);
    match procs::run(&probe, &[]) {
        Ok(r) if r.success => {}
        Ok(r) => {
            let why = format!("not measured: `import rollout` failed in {}: {}", ctx.python.display(), r.stderr.trim());
            return Ok(Section::not_measured(N, title, target, why));
        }
        Err(e) => return Ok(Section::not_measured(N, title, target, format!("not measured: {e:#}"))),
    }
    let seed_dir = ctx.root.join("examples/seed");
    let policy_json = std::fs::read_to_string(seed_dir.join("lifecycle-policy.json"))?;
    let policy = LifecyclePolicy::from_json(&policy_json)?;
    let now = Timestamp::now();
    let images = synthetic_images(10, now);
    let options = DeriveOptions::new(&seed_dir).template(TEMPLATE.parse()?);
    let expected_tag = derive_tag(&options)?.tag.to_string();

    let cluster = Cluster::start(&ctx.rt, 0.01, &ctx.dir("python"))?;
    let names = [DEPLOYMENT.to_string()];
    cluster.create_deployments(&ctx.rt, "default", &names, "registry.example/web:1.0.0", 3)?;
    cluster.wait_complete("default", &names, Duration::from_secs(60))?;
    let kubeconfig = cluster.env.iter().find(|(k, _)| k == "KUBECONFIG").map(|(_, v)| v.clone()).unwrap_or_default();

    let mut py = Python::start(&ctx.python, &ctx.root.join("benches/python_calls.py"))?;
    let setup = py.ask(&json!({
        "op": "setup",
        "seed_dir": seed_dir,
        "template": TEMPLATE,
        "policy_json": policy_json,
        "images": images.iter().map(|i| json!({"digest": i.digest, "tags": i.tags, "pushed_at": i.pushed_at.to_string()})).collect::<Vec<_>>(),
        "now": now.to_string(),
        "kubeconfig": kubeconfig,
        "deployment": DEPLOYMENT,
    }))?;
    let python_has = |c: &str| setup["calls"].as_array().is_some_and(|a| a.iter().any(|v| v == c));

    let (kube, _) = ctx.rt.block_on(rollout_core::clients::kube_client(&KubeOptions {
        kubeconfig: Some(kubeconfig.clone().into()),
        ..Default::default()
    }))?;
    let clusters = [(String::new(), kube)];
    let web = [WorkloadRef::deployment("default", DEPLOYMENT)];

    let mut calls = vec![
        Call {
            name: "derive_tag",
            python: format!("rollout.derive_tag(\"examples/seed\", template=\"{TEMPLATE}\")"),
            rust: format!(
                "rollout_core::derive_tag(&DeriveOptions::new(\"examples/seed\").template(\"{TEMPLATE}\".parse()?))"
            ),
            batch: 200,
            run_rust: Box::new(|| {
                let derived = derive_tag(&options)?;
                anyhow::ensure!(derived.tag.as_str() == expected_tag, "derived {}", derived.tag);
                Ok(())
            }),
            py: Samples::new(),
            rs: Samples::new(),
        },
        Call {
            name: "preview",
            python: "policy.preview(images, now=now)   # the seed policy, 10 ImageRecords".into(),
            rust: "rollout_core::lifecycle::preview(&policy, &images, now)".into(),
            batch: 200,
            run_rust: Box::new(|| {
                std::hint::black_box(preview(&policy, &images, now));
                Ok(())
            }),
            py: Samples::new(),
            rs: Samples::new(),
        },
    ];
    let mut notes = Vec::new();
    if python_has("status") {
        calls.push(Call {
            name: "status",
            python: format!("rollout.Client(kubeconfig=…).status(\"{DEPLOYMENT}\")   # one client, reused"),
            rust: format!(
                "rollout_core::wait::current_status(&[(\"\", client)], &[WorkloadRef::deployment(\"default\", \"{DEPLOYMENT}\")])   # one client, reused, on a multi-thread runtime"
            ),
            batch: 50,
            run_rust: Box::new(|| {
                let found = ctx.rt.block_on(current_status(&clusters, &web))?;
                anyhow::ensure!(found[0].status.is_complete(), "{:?}", found[0].status);
                Ok(())
            }),
            py: Samples::new(),
            rs: Samples::new(),
        });
    } else {
        notes.push(format!(
            "`Client.status` not measured: {}",
            setup["missing"]["status"].as_str().unwrap_or("not available")
        ));
    }

    let rounds = ctx.rounds(6);
    for round in 0..=rounds {
        for call in calls.iter_mut() {
            let rust = call.time_rust()?;
            let reply = py.ask(&json!({"op": "time", "call": call.name, "n": call.batch}))?;
            if round == 0 {
                continue; // warm-up
            }
            for d in rust {
                call.rs.push(d);
            }
            for ns in reply["ns"].as_array().into_iter().flatten() {
                call.py.push_value(ns.as_f64().unwrap_or(0.0) / 1e9);
            }
        }
    }
    drop(py);
    let calls: Vec<Done> =
        calls.into_iter().map(|c| Done { name: c.name, python: c.python, rust: c.rust, rs: c.rs, py: c.py }).collect();
    drop(clusters);
    cluster.shutdown(&ctx.rt);

    let mut table = Table::new(&[
        "call",
        "Rust, median (IQR)",
        "Python, median (IQR)",
        "overhead (difference of medians)",
        "calls each",
    ]);
    let mut worst_overhead: f64 = 0.0;
    let mut commands = Vec::new();
    let mut data = Vec::new();
    for c in &calls {
        let (rs, pys) = (c.rs.summary().context("no Rust samples")?, c.py.summary().context("no Python samples")?);
        let overhead = pys.median - rs.median;
        worst_overhead = worst_overhead.max(overhead);
        table.row(vec![c.name.into(), rs.time(), pys.time(), time(overhead), rs.n.to_string()]);
        commands.push(format!("{}   # Python", c.python));
        commands.push(format!("{}   # Rust", c.rust));
        data.push(json!({"call": c.name, "rust": rs, "python": pys, "overhead_seconds": overhead}));
    }

    // `import rollout`, in a fresh interpreter each time, timed inside it.
    let import = Cmd::new(
        &ctx.python,
        &["-c", "import time; t = time.perf_counter_ns(); import rollout; print(time.perf_counter_ns() - t)"],
    );
    let bare = Cmd::new(&ctx.python, &["-c", "pass"]);
    let whole = Cmd::new(&ctx.python, &["-c", "import rollout"]);
    let (mut inside, mut bare_wall, mut whole_wall) = (Samples::new(), Samples::new(), Samples::new());
    let runs = [&import, &bare, &whole];
    procs::alternate(3, 2, ctx.rounds(15), |round, c| {
        let r = procs::run_ok(runs[c], &[])?;
        if round.is_none() {
            return Ok(());
        }
        match c {
            0 => inside.push_value(r.stdout.trim().parse::<f64>().unwrap_or(f64::NAN) / 1e9),
            1 => bare_wall.push_value(r.seconds()),
            _ => whole_wall.push_value(r.seconds()),
        }
        Ok(())
    })?;
    let import_time = inside.summary().context("no import samples")?;
    let mut imports = Table::new(&["measured", "median (IQR)", "runs"]);
    imports.row(vec![
        "`import rollout`, timed inside a fresh interpreter".into(),
        import_time.time(),
        import_time.n.to_string(),
    ]);
    if let (Some(b), Some(w)) = (bare_wall.summary(), whole_wall.summary()) {
        imports.row(vec!["`python -c pass`, whole process".into(), b.time(), b.n.to_string()]);
        imports.row(vec!["`python -c 'import rollout'`, whole process".into(), w.time(), w.n.to_string()]);
    }
    commands.push(import.display());
    commands.push(bare.display());
    commands.push(whole.display());

    let ok = worst_overhead <= 50e-6 && import_time.median <= 0.050;
    let detail = format!(
        "overhead {} per call at most ({}); import {}",
        time(worst_overhead),
        calls.iter().map(|c| c.name).collect::<Vec<_>>().join(", "),
        time(import_time.median)
    );
    notes.push(format!(
        "The Python module is the release build (`maturin build --release`), in {}.",
        ctx.python.display()
    ));
    notes.push(format!(
        "Ratios Python / Rust: {}.",
        calls
            .iter()
            .filter_map(|c| Some(format!("{} {}×", c.name, sig3(c.py.summary()?.median / c.rs.summary()?.median))))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(Section {
        number: N,
        title: title.into(),
        method: format!(
            "Each call runs in batches, {} rounds after a warm-up round: a batch in Rust (this process, release \
             build), then the same batch in one long-lived Python interpreter, each call timed on its own \
             (`Instant` in Rust, `time.perf_counter_ns()` in Python). The overhead is the Python median minus the \
             Rust median: argument conversion, releasing and taking back the GIL, the shared runtime hand-off and \
             building the report object.",
            rounds
        ),
        target: target.into(),
        verdict: if calls.len() < 3 {
            Verdict::Missed(format!("{detail}; `Client.status` not measured"))
        } else {
            Verdict::judged(ok, detail)
        },
        commands,
        tables: vec![table, imports],
        notes,
        data: json!({"calls": data, "import_seconds": import_time}),
        seconds: 0.0,
    })
}
