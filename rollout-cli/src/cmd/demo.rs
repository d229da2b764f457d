//! `rollout demo`: the seed workflow, end to end, on an in-process sandbox, with commentary.
//!
//! It shows what rollout does that the seed's kubectl + aws CLI script does not: a tag derived from
//! the pom, a lifecycle policy previewed and checked against what the cluster uses before it is put,
//! a release whose image was never pushed stopped before the cluster is touched, a broken release
//! recognised within seconds instead of after the ten-minute progress deadline and rolled back to
//! the last release that was healthy, and a "previous tag" that means the previous healthy release.
//! Everything it calls is rollout-core; this module only tells the story.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use rollout_core::clients::{AwsOptions, ecr_client_with_static_credentials};
use rollout_core::deploy::{ApplyOptions, DeployOptions, DeployRequest, apply, deploy};
use rollout_core::history::{deployed_previous_tag, history};
use rollout_core::inuse::{Namespaces, in_use_images};
use rollout_core::lifecycle::Outcome as PolicyOutcome;
use rollout_core::registry::{PutOptions, Registry};
use rollout_core::wait::ProgressEvent;
use rollout_core::workload::WorkloadRef;
use rollout_core::{DeriveOptions, Error, LifecyclePolicy, PreviousQuery, RepositoryName, derive_tag};
use rollout_sandbox::ecr::PushOptions;
use rollout_sandbox::{ImageBehaviour, Sandbox};

use crate::exit::Exit;
use crate::render;

const POM: &str = include_str!("../../../examples/seed/pom.xml");
const DEPLOYMENT: &str = include_str!("../../../examples/seed/deployment.yaml");
const POLICY: &str = include_str!("../../../examples/seed/lifecycle-policy.json");
const NAME: &str = "ms-account-management";
/// The sandbox registry's host (its default account and the seed's region).
const REGISTRY: &str = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com";

/// Options of `rollout demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Factor applied to every simulated duration (probe delays, back-off, deadlines).
    #[arg(long, default_value_t = 0.01)]
    time_scale: f64,
}

fn step(n: u32, title: &str) {
    if std::io::stdout().is_terminal() {
        println!("\n\x1b[1m{n}. {title}\x1b[0m");
    } else {
        println!("\n{n}. {title}");
    }
}

/// Prints indented commentary; image references lose the long registry host to stay readable.
fn say(text: impl AsRef<str>) {
    for line in text.as_ref().lines() {
        println!("   {}", short(line));
    }
}

fn short(text: &str) -> String {
    text.replace(&format!("{REGISTRY}/"), "")
}

fn progress(event: &ProgressEvent) {
    println!("     · {}", short(&event.message()));
}

/// Runs the demo; any error is a bug or a broken machine, reported as such.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let sandbox = Sandbox::builder().time_scale(args.time_scale).seed(42).start().await?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig())?;
    let client = kube::Client::try_from(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?)?;
    let aws = AwsOptions {
        region: Some(sandbox.ecr().region().to_string()),
        endpoint_url: Some(sandbox.ecr_endpoint()),
        ..Default::default()
    };
    let registry = Registry::new(ecr_client_with_static_credentials(&aws, "sandbox", "sandbox").await?);
    let host = sandbox.registry_host();
    let repository: RepositoryName = NAME.parse()?;
    let image = |tag: &str| format!("{host}/{NAME}:{tag}");
    let target = WorkloadRef::deployment("default", NAME);
    let deadline = Duration::from_secs(600);

    println!("rollout demo: the seed workflow on an in-process sandbox");
    say(format!(
        "Kubernetes API and ECR at {}, simulated time running {}x faster (probe delays, back-off and the\n\
         600 s progress deadline all scale), registry {host}.",
        sandbox.url(),
        (1.0 / args.time_scale).round()
    ));

    // 1. Tag from the pom.
    step(1, "Tag the release from the Maven pom");
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("pom.xml"), POM)?;
    let template = "latest-release-{version}";
    let derived = derive_tag(&DeriveOptions::new(dir.path()).template(template.parse()?))?;
    say(format!(
        "$ rollout tag . --template '{template}'\n{}      (pom version {}; an immutable tag per release, never a reused `latest`)",
        derived.tag, derived.version.version
    ));

    // 2. Push it, with some history for the lifecycle policy to work on.
    step(2, "Push the image to ECR");
    sandbox.ecr().ensure_repository(NAME).map_err(|e| anyhow::anyhow!(e.message))?;
    let long_ago = sandbox.clock().now() - SignedDuration::from_hours(24 * 60);
    for i in 0..8i64 {
        let at = |h: i64| PushOptions {
            pushed_at: Some(long_ago + SignedDuration::from_hours(24 * 5 * i + h)),
            ..Default::default()
        };
        let tag = format!("latest-release-0.9.{i}");
        sandbox.ecr().push_image(NAME, &[&tag], at(0)).map_err(|e| anyhow::anyhow!(e.message))?;
        sandbox.ecr().push_image(NAME, &[], at(1)).map_err(|e| anyhow::anyhow!(e.message))?;
    }
    let digest = sandbox
        .ecr()
        .push_image(NAME, &[derived.tag.as_str()], PushOptions::default())
        .map_err(|e| anyhow::anyhow!(e.message))?;
    say(format!(
        "pushed {NAME}:{} ({})\nand, as history, eight older releases 0.9.0–0.9.7, each followed by an untagged build",
        derived.tag,
        render::short_digest(&digest)
    ));

    // 3. Apply the Deployment.
    step(3, "Apply the seed Deployment (3 replicas, tcpSocket probes on 8443) and wait until it is healthy");
    let mut options = ApplyOptions::new("default", deadline);
    options.image_overrides = vec![format!("{NAME}={}", image(derived.tag.as_str())).parse()?];
    let applied = apply(&client, DEPLOYMENT, &options, &progress).await?;
    for r in &applied.rollouts.reports {
        say(format!("✓ {}", r.summary()));
    }

    // 4. Lifecycle policy, previewed and checked against what runs.
    step(4, "Put the seed lifecycle policy, previewed and checked against the images in use");
    let policy = LifecyclePolicy::parse(POLICY)?;
    let preview = registry.preview_lifecycle_policy(&repository, &policy, sandbox.ecr().now()).await?;
    let expiring = preview.images.iter().filter(|v| v.outcome == PolicyOutcome::Expire);
    let untagged = expiring.clone().filter(|v| v.tags.is_empty()).count();
    let mut tagged: Vec<String> = expiring.filter(|v| !v.tags.is_empty()).map(|v| render::tags(&v.tags)).collect();
    tagged.sort();
    say(format!(
        "preview: of {} images, {} would expire and {} are kept:\n  rule 1 keeps the five newest `latest*` releases: expires {}\n  rule 2 keeps two untagged builds: expires {untagged}",
        preview.summary.images,
        preview.summary.expiring,
        preview.summary.kept,
        tagged.join(", "),
    ));
    let clusters = [(String::from("sandbox"), client.clone())];
    let in_use = in_use_images(&clusters, &Namespaces::All).await?;
    let mut references: Vec<&str> = in_use.iter().map(|i| i.reference.as_str()).collect();
    references.sort();
    references.dedup();
    let put_options = PutOptions { in_use: in_use.clone(), ..Default::default() };
    let put = registry.put_lifecycle_policies(std::slice::from_ref(&repository), &policy, &put_options).await?;
    say(format!(
        "in use in the cluster: {} ({} objects: the Deployment, its ReplicaSet history and pods) — kept\n\
         put: the policy is on {} repository; a policy that would expire an image in use is refused unless forced",
        references.join(", "),
        in_use.len(),
        put.put
    ));

    // 5. The next release.
    step(5, "Roll out the next release, 1.0.1, with a rolling update");
    std::fs::write(
        dir.path().join("pom.xml"),
        POM.replacen("<version>1.0.0</version>", "<version>1.0.1</version>", 1),
    )?;
    let next = derive_tag(&DeriveOptions::new(dir.path()).template(template.parse()?))?;
    sandbox
        .ecr()
        .push_image(NAME, &[next.tag.as_str()], PushOptions::default())
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let mut deploy_options = DeployOptions::new(deadline);
    deploy_options.rollback_on_failure = true;
    deploy_options.image_lookup = Some(Arc::new(registry.clone()));
    let request = |tag: &str| -> anyhow::Result<DeployRequest> {
        Ok(DeployRequest::new(target.clone(), vec![format!("{NAME}={}", image(tag)).parse()?]))
    };
    say(format!("$ rollout deploy {NAME} --image :{} --rollback-on-failure", next.tag));
    let report = deploy(&client, &request(next.tag.as_str())?, &deploy_options, &progress).await?;
    say(format!("✓ {}", report.summary()));

    // 6. An image that was never pushed.
    step(6, "A release whose image was never pushed (1.0.2): stopped by the preflight checks");
    match deploy(&client, &request("latest-release-1.0.2")?, &deploy_options, &progress).await {
        Err(Error::PreflightFailed { checks }) => {
            for c in &checks {
                say(format!("✗ preflight {}: {}", c.check.check, c.check.message));
            }
            say("nothing was changed in the cluster");
        }
        other => anyhow::bail!("the preflight should have refused 1.0.2, got {other:?}"),
    }

    // 7. Forced: fail fast and roll back.
    step(7, "Force it anyway (skip image-exists): the pull fails, rollout notices within seconds and rolls back");
    let mut forced = deploy_options.clone();
    forced.skip_checks.insert("image-exists".parse()?);
    let t = sandbox.clock().now();
    match deploy(&client, &request("latest-release-1.0.2")?, &forced, &progress).await {
        Err(Error::RolloutFailed { report }) => {
            let took = sandbox.clock().now().duration_since(t);
            say(crate::text::report(&report));
            say(format!(
                "failed and rolled back within {}s of cluster time; `kubectl rollout status` would have waited for the\n\
                 {}s progress deadline and then said only \"exceeded its progress deadline\"",
                took.as_secs(),
                deadline.as_secs()
            ));
        }
        other => anyhow::bail!("1.0.2 should have failed, got {other:?}"),
    }

    // 8. A release that crashes.
    step(8, "A release that crashes on start (1.0.3): CrashLoopBackOff with its log lines, then rolled back");
    let crash =
        ImageBehaviour::crashing(1, 2.0, &["Starting ms-account-management 1.0.3", "FATAL: DATABASE_URL is not set"]);
    sandbox
        .ecr()
        .push_image(NAME, &["latest-release-1.0.3"], PushOptions { behaviour: Some(crash), ..Default::default() })
        .map_err(|e| anyhow::anyhow!(e.message))?;
    match deploy(&client, &request("latest-release-1.0.3")?, &deploy_options, &progress).await {
        Err(Error::RolloutFailed { report }) => say(crate::text::report(&report)),
        other => anyhow::bail!("1.0.3 should have failed, got {other:?}"),
    }

    // 9. Previous tag.
    step(9, "Which release is \"previous\"?");
    let by_push = registry.previous_tag(&repository, &PreviousQuery::cli_compatible()).await?;
    let hist = history(&client, &target).await?;
    let running =
        hist.current().and_then(|r| r.images.first()).map(|i| i.image.rsplit(':').next().unwrap_or("").to_string());
    let deployed = deployed_previous_tag(&hist, Some(NAME))?;
    let seed_answer = by_push.tag.clone().unwrap_or_else(|| "None".into());
    let verdict = if Some(&seed_answer) == running.as_ref() {
        "the release running right now: rolling back to it changes nothing"
    } else {
        "the second-newest push, whatever ran before"
    };
    say(format!(
        "the seed's query, sort_by(imageDetails,& imagePushedAt)[-2]: {seed_answer}\n   → {verdict}\n\
         rollout previous --strategy deployed:                        {}\n   → the release that ran before the current one and was healthy (revision {})",
        deployed.tag, deployed.revision
    ));

    // 10. History.
    step(10, "History: every revision, its image, and whether it was ever healthy");
    let rows: Vec<Vec<String>> = hist
        .revisions
        .iter()
        .map(|r| {
            vec![
                r.revision.to_string(),
                r.images.iter().map(|i| short(&i.image)).collect::<Vec<_>>().join(","),
                if r.healthy_at.is_some() { "yes".into() } else { "no".into() },
                if r.current { "*".into() } else { String::new() },
            ]
        })
        .collect();
    say(render::table(&["REVISION", "IMAGE", "HEALTHY", "CURRENT"], &rows));

    println!(
        "\nDone in {:.1}s. Every step above is one call of rollout-core, also available as a `rollout` subcommand and from Python.",
        started.elapsed().as_secs_f64()
    );
    sandbox.shutdown().await;
    Ok(Exit::Success)
}
