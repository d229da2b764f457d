//! Support for the kubectl conformance tests: finding the real `kubectl`, running it against a
//! sandbox with a private kubeconfig, discovery cache and home directory, and waiting on the
//! sandbox's store for a state.
//!
//! It decides nothing about what is correct (the tests in `kubectl.rs` do) and never sleeps: every
//! wait is on a condition, re-checked after each change in the store, with a generous real-time
//! bound that only limits how long a failing test takes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rollout_sandbox::store::{EventType, WatchEvent};
use rollout_sandbox::{Kind, Sandbox, Store};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

/// The environment variable naming the kubectl binary to test with; it wins over `PATH`.
pub const KUBECTL_ENV: &str = "ROLLOUT_TEST_KUBECTL";

/// How long one kubectl invocation may take before the test fails (real time).
const COMMAND_BOUND: Duration = Duration::from_secs(120);

/// How long a wait on the store may take before the test fails (real time).
const WAIT_BOUND: Duration = Duration::from_secs(60);

/// The kubectl binary: `$ROLLOUT_TEST_KUBECTL`, else `kubectl` on `PATH`.
///
/// When none is found the tests cannot check the sandbox against the real client: under CI (the
/// `CI` variable is set) that is a failure, so a CI image without kubectl cannot pass silently;
/// elsewhere the test prints why it is skipped and passes. A `ROLLOUT_TEST_KUBECTL` that names no
/// executable is a mistake in the environment and always fails.
pub fn kubectl_binary() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os(KUBECTL_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        assert!(is_executable(&path), "{KUBECTL_ENV}={} is not an executable file", path.display());
        return Some(path);
    }
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("kubectl")).find(|p| is_executable(p)));
    if found.is_none() {
        let how = format!(
            "the kubectl conformance tests need the real kubectl (1.27 or newer): install it on PATH \
             (https://kubernetes.io/docs/tasks/tools/) or set {KUBECTL_ENV}=/path/to/kubectl"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl not found on PATH and {KUBECTL_ENV} is not set; {how} (this fails because CI is set; \
             elsewhere these tests are skipped)"
        );
        eprintln!("skipped: kubectl not found; {how}");
    }
    found
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Starts a sandbox at `time_scale` and a kubectl pointed at it, or `None` (after printing why) when
/// kubectl is missing outside CI.
pub async fn start(time_scale: f64) -> Option<(Sandbox, Kubectl)> {
    let bin = kubectl_binary()?;
    let sb = Sandbox::builder().time_scale(time_scale).seed(7).start().await.expect("the sandbox starts");
    let kubectl = Kubectl::new(bin, &sb);
    Some((sb, kubectl))
}

/// The real kubectl, configured for one sandbox: its own kubeconfig, discovery cache and `HOME` in a
/// temporary directory, so nothing is read from or written to the user's `~/.kube` and no discovery
/// cached for an earlier sandbox on the same port can be stale.
pub struct Kubectl {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// The outcome of one kubectl invocation.
pub struct Run {
    /// The arguments it ran with (without the global flags the harness adds).
    pub args: Vec<String>,
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kubectl {}\n  exit code: {:?}\n  stdout:\n{}\n  stderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

impl Kubectl {
    fn new(bin: PathBuf, sb: &Sandbox) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        sb.write_kubeconfig(dir.path().join("kubeconfig")).expect("the kubeconfig is written");
        std::fs::create_dir(dir.path().join("cache")).expect("the cache directory is created");
        Self { bin, dir }
    }

    /// Writes `contents` as JSON to a file in the private directory (a manifest; kubectl reads JSON
    /// as YAML) and returns its path.
    pub fn write(&self, name: &str, contents: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(contents).expect("JSON serializes")).expect("written");
        path.to_str().expect("temporary paths are UTF-8").to_string()
    }

    /// Runs kubectl with `args` and returns what it did, whatever the exit code.
    pub async fn run(&self, args: &[&str]) -> Run {
        let home = self.dir.path();
        let cache = home.join("cache");
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.arg(format!("--kubeconfig={}", home.join("kubeconfig").display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg("--request-timeout=60s")
            .args(args)
            .env("KUBECONFIG", home.join("kubeconfig"))
            .env("KUBECACHEDIR", &cache)
            .env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let out = tokio::time::timeout(COMMAND_BOUND, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {} did not finish within {COMMAND_BOUND:?}", args.join(" ")))
            .expect("kubectl's output is read");
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and returns its standard output, failing the test unless it exits 0.
    pub async fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args).await;
        assert_eq!(run.code, Some(0), "expected success from {run}");
        run.stdout
    }

    /// Runs kubectl and returns the run, failing the test unless it exits 1.
    pub async fn fails(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(run.code, Some(1), "expected exit code 1 from {run}");
        run
    }
}

/// Waits until `probe` returns `Some` for the store's state, re-checking after every change.
pub async fn wait_for<T>(sb: &Sandbox, what: &str, mut probe: impl FnMut(&Store) -> Option<T>) -> T {
    let mut feed = sb.store().observe();
    let deadline = tokio::time::Instant::now() + WAIT_BOUND;
    loop {
        if let Some(v) = probe(sb.store()) {
            return v;
        }
        match tokio::time::timeout_at(deadline, feed.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the sandbox stopped while waiting for {what}"),
            Err(_) => panic!("{what} did not happen within {WAIT_BOUND:?} (real time)"),
        }
    }
}

/// The stored Deployment `name` in `default`.
pub fn deployment(store: &Store, name: &str) -> Value {
    (*store.get(Kind::Deployment, "default", name).expect("the deployment exists")).clone()
}

/// The ReplicaSets in `default` controlled by the Deployment `name`.
pub fn replica_sets(store: &Store, name: &str) -> Vec<Value> {
    let Ok(d) = store.get(Kind::Deployment, "default", name) else { return Vec::new() };
    let uid = d["metadata"]["uid"].clone();
    owned_by(store, Kind::ReplicaSet, &uid)
}

/// The objects of `kind` in `default` whose controller owner has `uid`.
pub fn owned_by(store: &Store, kind: Kind, uid: &Value) -> Vec<Value> {
    let controlled = |o: &Value| {
        o["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|refs| refs.iter().any(|r| r["controller"] == Value::Bool(true) && &r["uid"] == uid))
    };
    store
        .list(kind, Some("default"), &controlled, None, None)
        .expect("lists")
        .items
        .iter()
        .map(|o| (**o).clone())
        .collect()
}

/// The pods in `default` whose label `app` is `app`.
pub fn pods(store: &Store, app: &str) -> Vec<Value> {
    let matches = |o: &Value| o["metadata"]["labels"]["app"] == app;
    store
        .list(Kind::Pod, Some("default"), &matches, None, None)
        .expect("lists")
        .items
        .iter()
        .map(|o| (**o).clone())
        .collect()
}

/// `metadata.annotations[key]` of an object, if set.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["annotations"][key].as_str()
}

/// The image of the first container of an object's pod template (or of a pod).
pub fn template_image(obj: &Value) -> &str {
    let spec = if obj["kind"] == "Pod" { &obj["spec"] } else { &obj["spec"]["template"]["spec"] };
    spec["containers"][0]["image"].as_str().unwrap_or("")
}

/// Whether the Deployment `name` has finished its rollout, by the same test as `kubectl rollout
/// status`: the spec change is observed and every replica is updated and available, none old.
pub fn rolled_out(store: &Store, name: &str) -> bool {
    let Ok(d) = store.get(Kind::Deployment, "default", name) else { return false };
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let (spec, st) = (&d["spec"], &d["status"]);
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    n(&d["metadata"]["generation"]) <= n(&st["observedGeneration"])
        && n(&st["updatedReplicas"]) == replicas
        && n(&st["replicas"]) == replicas
        && n(&st["availableReplicas"]) == replicas
}

/// The reason of the Deployment's `Progressing` condition, if it has one.
pub fn progressing_reason(d: &Value) -> Option<String> {
    d["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Progressing")
        .and_then(|c| c["reason"].as_str())
        .map(str::to_string)
}

/// Records the Events the sandbox's components emit, in the order they happen, from the store's
/// lossless change feed (a repeated event bumps `count` on an existing Event object; each bump counts
/// as one occurrence, as it does in `kubectl describe`).
pub struct EventLog {
    feed: UnboundedReceiver<Arc<WatchEvent>>,
    seen: Vec<Value>,
}

impl EventLog {
    /// Starts recording now.
    pub fn start(store: &Store) -> Self {
        Self { feed: store.observe(), seen: Vec::new() }
    }

    /// The messages of every `reason` event about `involved_name` recorded so far, in order.
    pub fn messages(&mut self, reason: &str, involved_name: &str) -> Vec<String> {
        while let Ok(ev) = self.feed.try_recv() {
            if ev.kind == Kind::Event && ev.event_type != EventType::Deleted {
                self.seen.push((*ev.object).clone());
            }
        }
        self.seen
            .iter()
            .filter(|e| e["reason"] == reason && e["involvedObject"]["name"] == involved_name)
            .filter_map(|e| e["message"].as_str().map(str::to_string))
            .collect()
    }
}
