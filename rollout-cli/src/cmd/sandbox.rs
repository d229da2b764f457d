//! `rollout sandbox`: runs the emulated Kubernetes API and ECR in the foreground, or around one command.

use std::path::PathBuf;

use anyhow::Context;
use rollout_sandbox::Sandbox;

use crate::exit::Exit;

/// Options of `rollout sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on (127.0.0.1 only); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Factor applied to every simulated duration: 0.01 makes a 10 s probe delay take 100 ms.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    time_scale: f64,
    /// Seed of generated names, uids and injected faults.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Require this bearer token from clients (the kubeconfig written carries it).
    #[arg(long, env = "ROLLOUT_SANDBOX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Directory for the kubeconfig and env file [default: a new directory under the system temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where to write the env file (`KUBECONFIG=…` and the sandbox's variables) [default: DIR/env].
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// Push an image into the sandbox registry before starting, as REPOSITORY:TAG (repeatable); the
    /// repository is created when missing.
    #[arg(long, value_name = "REPOSITORY:TAG")]
    push: Vec<String>,
    /// Run this command against the sandbox (with KUBECONFIG and the AWS variables set), then stop;
    /// exit with its status.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(1e-4..=1e3).contains(&v) {
        return Err(format!("{v} is outside 0.0001..=1000"));
    }
    Ok(v)
}

/// Starts the sandbox, writes the kubeconfig and env file, and either runs `command` or waits for
/// SIGINT/SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let mut builder = Sandbox::builder().port(args.port).time_scale(args.time_scale).seed(args.seed);
    if let Some(t) = &args.token {
        builder = builder.token(t.clone());
    }
    let sandbox =
        builder.start().await.with_context(|| format!("starting the sandbox on 127.0.0.1:{} failed", args.port))?;
    for image in &args.push {
        let (repo, tag) = image
            .rsplit_once(':')
            .filter(|(r, t)| !r.is_empty() && !t.is_empty() && !t.contains('/'))
            .with_context(|| format!("--push {image:?}: expected REPOSITORY:TAG"))?;
        let ecr = sandbox.ecr();
        ecr.ensure_repository(repo)
            .and_then(|_| ecr.push_image(repo, &[tag], Default::default()))
            .map_err(|e| anyhow::anyhow!("--push {image:?}: {}", e.message))?;
    }
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("rollout-sandbox-{}", sandbox.addr().port())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {} failed", dir.display()))?;
    let kubeconfig = dir.join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).with_context(|| format!("writing {} failed", kubeconfig.display()))?;
    let cache = dir.join("kube-cache");
    let env_file = args.env_file.unwrap_or_else(|| dir.join("env"));
    let env = [
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("KUBECACHEDIR", cache.display().to_string()),
        ("ROLLOUT_SANDBOX_URL", sandbox.url()),
        // The sandbox ECR answers any SigV4-signed request, so dummy credentials do.
        ("AWS_ENDPOINT_URL_ECR", sandbox.ecr_endpoint()),
        ("AWS_REGION", sandbox.ecr().region().to_string()),
        // The aws CLI (botocore) reads only AWS_DEFAULT_REGION.
        ("AWS_DEFAULT_REGION", sandbox.ecr().region().to_string()),
        ("AWS_ACCESS_KEY_ID", "sandbox".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "sandbox".to_string()),
        ("ROLLOUT_SANDBOX_REGISTRY", sandbox.registry_host()),
    ];
    let env_text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&env_file, env_text).with_context(|| format!("writing {} failed", env_file.display()))?;

    eprintln!(
        "rollout sandbox: Kubernetes API on {} (time scale {}, seed {})",
        sandbox.url(),
        args.time_scale,
        args.seed
    );
    eprintln!("  kubeconfig: {} (context {})", kubeconfig.display(), rollout_sandbox::CONTEXT);
    eprintln!(
        "  ECR:        {} (AWS_ENDPOINT_URL_ECR, region {}), registry {}",
        sandbox.ecr_endpoint(),
        sandbox.ecr().region(),
        sandbox.registry_host()
    );
    eprintln!("  env file:   {}", env_file.display());

    if let Some((program, rest)) = args.command.split_first() {
        let status = tokio::process::Command::new(program)
            .args(rest)
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .status()
            .await
            .with_context(|| format!("running {program:?} failed"))?;
        sandbox.shutdown().await;
        return Ok(match status.code() {
            Some(0) => Exit::Success,
            Some(130) | None => Exit::Interrupted,
            Some(_) => Exit::Failed,
        });
    }

    eprintln!(
        "Use it from another shell:\n  set -a; . {}; set +a\n  kubectl get deployments\n  aws ecr describe-repositories",
        env_file.display()
    );
    eprintln!("Stop with Ctrl-C.");
    wait_for_signal().await;
    eprintln!("rollout sandbox: stopping");
    sandbox.shutdown().await;
    Ok(Exit::Success)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
