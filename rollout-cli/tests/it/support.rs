//! Running the built `rollout` binary, and comparing its text output with snapshots.
//!
//! Snapshots live in `tests/snapshots/<name>.txt`. A test fails when the output differs; run with
//! `ROLLOUT_UPDATE_SNAPSHOTS=1` to write the new output instead, then review the diff in git.

use std::path::PathBuf;
use std::process::Output;

use rollout_sandbox::Sandbox;

/// The outcome of one run of the binary.
pub struct Run {
    /// The arguments.
    pub args: Vec<String>,
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(args: &[&str], out: Output) -> Self {
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing everything when it is wrong.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code,
            want,
            "rollout {}\nstdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.stdout,
            self.stderr
        );
        self
    }

    /// The stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout of rollout {} is not one JSON document: {e}\n{}", self.args.join(" "), self.stdout)
        })
    }
}

/// A command line for the built binary, with a clean environment for AWS and Kubernetes.
pub struct Rollout {
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Rollout {
    /// No cluster and no registry configured.
    pub fn new() -> Self {
        Rollout { env: Vec::new(), dir: tempfile::tempdir().unwrap() }
    }

    /// Configured for a sandbox: its kubeconfig and its ECR endpoint with dummy credentials.
    pub fn for_sandbox(sb: &Sandbox) -> Self {
        let r = Self::new();
        let kubeconfig = r.dir.path().join("kubeconfig");
        sb.write_kubeconfig(&kubeconfig).unwrap();
        r.env("KUBECONFIG", kubeconfig.to_str().unwrap())
            .env("AWS_ENDPOINT_URL_ECR", &sb.ecr_endpoint())
            .env("AWS_REGION", sb.ecr().region())
            .env("AWS_ACCESS_KEY_ID", "sandbox")
            .env("AWS_SECRET_ACCESS_KEY", "sandbox")
    }

    /// Adds an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// A scratch directory for files the test writes.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Configured for a sandbox, with this kubeconfig text instead of the sandbox's own.
    pub fn with_kubeconfig(sb: &Sandbox, kubeconfig: &str) -> Self {
        let r = Self::for_sandbox(sb);
        std::fs::write(r.dir.path().join("kubeconfig"), kubeconfig).unwrap();
        r
    }

    /// Writes a file in the scratch directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_rollout"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", self.dir.path().join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Runs `rollout ARGS…`.
    pub async fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().await.expect("the rollout binary runs");
        Run::from(args, out)
    }

    /// Starts `rollout ARGS…` with stdout and stderr piped, for tests that act while it runs.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the rollout binary starts")
    }
}

/// A Deployment manifest: `replicas` pods of one container `app` with a readiness probe, rolling
/// update with maxSurge 1 / maxUnavailable 0, and the given progress deadline (simulated seconds).
pub fn deployment(name: &str, image: &str, replicas: i32, progress_deadline: i64) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {progress_deadline}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: {image}
          ports: [{{containerPort: 8443}}]
          readinessProbe:
            tcpSocket: {{port: 8443}}
            initialDelaySeconds: 5
            periodSeconds: 10
"
    )
}

/// A started sandbox for CLI tests: a fast clock (1 simulated second = 10 ms) and a fixed seed.
pub async fn sandbox(seed: u64) -> Sandbox {
    Sandbox::builder().time_scale(0.01).seed(seed).start().await.expect("the sandbox starts")
}

/// A sandbox with Deployment `name` created through `rollout deploy -f` and rolled out.
pub async fn with_deployment(seed: u64, name: &str, image: &str, replicas: i32) -> (Sandbox, Rollout) {
    let sb = sandbox(seed).await;
    let r = Rollout::for_sandbox(&sb);
    let manifest = r.file(&format!("{name}.yaml"), &deployment(name, image, replicas, 600));
    r.run(&["deploy", "-f", &manifest, "-q"]).await.code(0);
    (sb, r)
}

/// Replaces what changes from run to run (times, durations, generated names, addresses, counts) with
/// placeholders, so text output can be compared with a snapshot. Column widths depend on the
/// replaced values, so runs of spaces inside a line become two spaces; indentation is kept.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let body = line.trim_start_matches(' ');
        out.push_str(&line[..line.len() - body.len()]);
        // `split(' ')` yields an empty piece for every extra space of a run.
        let (mut first, mut run) = (true, 0);
        for piece in body.split(' ') {
            if piece.is_empty() {
                run += 1;
                continue;
            }
            if !first {
                out.push_str(if run > 0 { "  " } else { " " });
            }
            out.push_str(&normalise_word(piece));
            (first, run) = (false, 0);
        }
        out.push('\n');
    }
    out
}

fn normalise_word(word: &str) -> String {
    let trimmed = word.trim_matches(|c: char| "(),:;".contains(c));
    let (lead, rest) = word.split_at(word.find(trimmed).unwrap_or(0));
    let tail = &rest[trimmed.len()..];
    let is_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let replaced =
        if trimmed.len() >= 20 && trimmed.as_bytes()[4] == b'-' && trimmed.contains('T') && trimmed.ends_with('Z') {
            "<time>".to_owned()
        } else if trimmed.ends_with('s')
            && trimmed.len() > 1
            && trimmed[..trimmed.len() - 1].chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            "<duration>".to_owned()
        } else if trimmed.starts_with('x') && is_digits(&trimmed[1..]) {
            "x<n>".to_owned()
        } else if trimmed.split('.').count() == 4 && trimmed.split('.').all(is_digits) {
            "<ip>".to_owned()
        } else if let Some(pod) = generated_name(trimmed) {
            pod
        } else if trimmed.contains('_') && trimmed.len() > 36 {
            // kubelet's pod_namespace(uid) form: keep the namespace, drop the name and uid.
            "<pod_namespace(uid)>".to_owned()
        } else {
            trimmed.to_owned()
        };
    format!("{lead}{replaced}{tail}")
}

/// `web-7d9f8c6b5-x2x4k` → `web-<hash>-<pod>`, `web-7d9f8c6b5` → `web-<hash>`.
fn generated_name(word: &str) -> Option<String> {
    let parts: Vec<&str> = word.split('-').collect();
    let hashy = |s: &str| {
        s.len() >= 8
            && s.len() <= 10
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars().any(|c| c.is_ascii_digit())
    };
    let suffix = |s: &str| s.len() == 5 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    match parts.as_slice() {
        [base @ .., h, p] if !base.is_empty() && hashy(h) && suffix(p) => {
            Some(format!("{}-<hash>-<pod>", base.join("-")))
        }
        [base @ .., h] if !base.is_empty() && hashy(h) => Some(format!("{}-<hash>", base.join("-"))),
        _ => None,
    }
}

/// Compares `actual` with the snapshot `name`, or rewrites it under `ROLLOUT_UPDATE_SNAPSHOTS=1`.
#[track_caller]
pub fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.txt"));
    if std::env::var_os("ROLLOUT_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no snapshot {}; run with ROLLOUT_UPDATE_SNAPSHOTS=1 to create it", path.display()));
    assert_eq!(actual, expected, "output differs from {} (ROLLOUT_UPDATE_SNAPSHOTS=1 rewrites it)", path.display());
}
