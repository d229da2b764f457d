//! How the simulated containers of each image behave, and where image pulls go.
//!
//! By default every image pulls in a second and starts healthy. Tests and the admin API give an
//! image (by exact reference, or by a prefix ending in `*`) a behaviour: slow start, crash with an
//! exit code and log lines, OOM kills, never ready, failing liveness, missing configuration, or a pull
//! failure. Pulls go through one `ImagePuller` hook, which the sandbox registry replaces so that an
//! image under its host pulls only if it was pushed there.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

/// The behaviour of containers running an image. Durations are simulated seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ImageBehaviour {
    /// How long a pull takes.
    pub pull_seconds: f64,
    /// How long after the container starts until the application answers probes (a slow start).
    pub start_delay_seconds: f64,
    /// Exit this long after every start (a crash loop), with `exit_code`.
    pub crash_after_seconds: Option<f64>,
    /// The exit code of a crash (`1` unless set).
    pub exit_code: i32,
    /// Crash by running out of memory: reason `OOMKilled`, exit code 137.
    pub oom_killed: bool,
    /// Lines the application writes to its log on every start.
    pub log_lines: Vec<String>,
    /// Readiness probes always fail (the application runs but never reports ready).
    pub never_ready: bool,
    /// Liveness probes always fail, so the kubelet keeps restarting the container.
    pub liveness_fails: bool,
    /// The container cannot be created: `CreateContainerConfigError` with this message
    /// (e.g. `configmap "app-config" not found`).
    pub config_error: Option<String>,
    /// Every pull fails with this message: `ErrImagePull`, then `ImagePullBackOff`.
    pub pull_error: Option<String>,
    /// How long an init container runs before it completes.
    pub run_seconds: f64,
    /// How long the application takes to stop after SIGTERM (bounded by the grace period).
    pub stop_seconds: f64,
    /// Image size reported in pull events, bytes.
    pub size_bytes: u64,
}

impl Default for ImageBehaviour {
    fn default() -> Self {
        Self {
            pull_seconds: 1.0,
            start_delay_seconds: 0.0,
            crash_after_seconds: None,
            exit_code: 1,
            oom_killed: false,
            log_lines: Vec::new(),
            never_ready: false,
            liveness_fails: false,
            config_error: None,
            pull_error: None,
            run_seconds: 1.0,
            stop_seconds: 1.0,
            size_bytes: 52_428_800,
        }
    }
}

impl ImageBehaviour {
    /// A healthy image (the default).
    pub fn healthy() -> Self {
        Self::default()
    }

    /// An image whose containers exit with `exit_code` after `after_seconds`, printing `log_lines`.
    pub fn crashing(exit_code: i32, after_seconds: f64, log_lines: &[&str]) -> Self {
        Self {
            crash_after_seconds: Some(after_seconds),
            exit_code,
            log_lines: log_lines.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        }
    }

    /// An image whose pulls fail with `message`.
    pub fn unpullable(message: &str) -> Self {
        Self { pull_error: Some(message.to_string()), ..Self::default() }
    }

    /// An image whose containers never become ready.
    pub fn never_ready() -> Self {
        Self { never_ready: true, ..Self::default() }
    }

    /// Checks the numbers, naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("pullSeconds", self.pull_seconds),
            ("startDelaySeconds", self.start_delay_seconds),
            ("runSeconds", self.run_seconds),
            ("stopSeconds", self.stop_seconds),
            ("crashAfterSeconds", self.crash_after_seconds.unwrap_or(0.0)),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name}: {v} must be a finite number of seconds ≥ 0"));
            }
        }
        Ok(())
    }
}

/// What a pull attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    /// The image was pulled; the digest if the registry knows one.
    Pulled { digest: Option<String>, size_bytes: Option<u64> },
    /// The pull failed with this message (as the container runtime words it).
    Failed(String),
}

/// Where image pulls go. The default accepts every image.
pub trait ImagePuller: Send + Sync + std::fmt::Debug {
    /// Pulls `image` (a full reference as written in the pod spec).
    fn pull(&self, image: &str) -> PullOutcome;
}

#[derive(Debug)]
struct AcceptAll;

impl ImagePuller for AcceptAll {
    fn pull(&self, _image: &str) -> PullOutcome {
        PullOutcome::Pulled { digest: None, size_bytes: None }
    }
}

/// The behaviours of every image and the pull hook.
#[derive(Debug)]
pub struct Images {
    rules: RwLock<Vec<(String, ImageBehaviour)>>,
    puller: RwLock<Arc<dyn ImagePuller>>,
}

impl Default for Images {
    fn default() -> Self {
        Self { rules: RwLock::new(Vec::new()), puller: RwLock::new(Arc::new(AcceptAll)) }
    }
}

impl Images {
    /// Sets the behaviour of an image reference, or of every reference starting with a prefix when
    /// `pattern` ends with `*`. Later rules replace earlier ones for the same pattern.
    pub fn set(&self, pattern: &str, behaviour: ImageBehaviour) -> Result<(), String> {
        behaviour.validate()?;
        let mut rules = self.rules.write().unwrap_or_else(|p| p.into_inner());
        rules.retain(|(p, _)| p != pattern);
        rules.push((pattern.to_string(), behaviour));
        Ok(())
    }

    /// Removes the behaviour of a pattern; true if there was one.
    pub fn remove(&self, pattern: &str) -> bool {
        let mut rules = self.rules.write().unwrap_or_else(|p| p.into_inner());
        let before = rules.len();
        rules.retain(|(p, _)| p != pattern);
        rules.len() != before
    }

    /// Every rule, in the order they were set.
    pub fn rules(&self) -> Vec<(String, ImageBehaviour)> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The behaviour of an image: an exact rule, else the longest matching prefix rule, else healthy.
    pub fn behaviour(&self, image: &str) -> ImageBehaviour {
        let rules = self.rules.read().unwrap_or_else(|p| p.into_inner());
        if let Some((_, b)) = rules.iter().find(|(p, _)| p == image) {
            return b.clone();
        }
        rules
            .iter()
            .filter_map(|(p, b)| {
                p.strip_suffix('*').filter(|prefix| image.starts_with(prefix)).map(|pre| (pre.len(), b))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    }

    /// Replaces the pull hook.
    pub fn set_puller(&self, puller: Arc<dyn ImagePuller>) {
        *self.puller.write().unwrap_or_else(|p| p.into_inner()) = puller;
    }

    /// Pulls an image: a configured pull error wins, otherwise the hook decides.
    pub fn pull(&self, image: &str) -> PullOutcome {
        if let Some(msg) = self.behaviour(image).pull_error {
            return PullOutcome::Failed(msg);
        }
        let puller = self.puller.read().unwrap_or_else(|p| p.into_inner()).clone();
        puller.pull(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_rules_win_over_the_longest_prefix() {
        let i = Images::default();
        i.set("repo/*", ImageBehaviour::never_ready()).unwrap();
        i.set("repo/app:*", ImageBehaviour::crashing(3, 1.0, &["boom"])).unwrap();
        i.set("repo/app:good", ImageBehaviour::healthy()).unwrap();
        assert_eq!(i.behaviour("repo/app:good"), ImageBehaviour::healthy());
        assert_eq!(i.behaviour("repo/app:bad").exit_code, 3);
        assert!(i.behaviour("repo/other:1").never_ready);
        assert_eq!(i.behaviour("elsewhere:1"), ImageBehaviour::default());
        assert!(i.remove("repo/*"));
        assert!(!i.behaviour("repo/other:1").never_ready);
    }

    #[test]
    fn configured_pull_errors_fail_the_pull() {
        let i = Images::default();
        assert!(matches!(i.pull("a:1"), PullOutcome::Pulled { .. }));
        i.set("a:1", ImageBehaviour::unpullable("not found")).unwrap();
        assert_eq!(i.pull("a:1"), PullOutcome::Failed("not found".into()));
    }

    #[test]
    fn behaviours_parse_from_camel_case_and_reject_negative_times() {
        let b: ImageBehaviour =
            serde_json::from_str(r#"{"crashAfterSeconds": 2, "exitCode": 3, "logLines": ["x"]}"#).unwrap();
        assert_eq!((b.crash_after_seconds, b.exit_code, b.pull_seconds), (Some(2.0), 3, 1.0));
        let bad = ImageBehaviour { pull_seconds: -1.0, ..Default::default() };
        assert!(Images::default().set("x", bad).unwrap_err().starts_with("pullSeconds"));
    }
}
