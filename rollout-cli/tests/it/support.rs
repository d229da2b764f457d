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

    /// Runs `rollout ARGS…`.
    pub async fn run(&self, args: &[&str]) -> Run {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rollout"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", self.dir.path().join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .await
            .expect("the rollout binary runs");
        Run::from(args, out)
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
