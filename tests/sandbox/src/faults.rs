//! Fault injection: seeded, deterministic misbehaviour of the emulated API server.
//!
//! A `FaultConfig` says what goes wrong and how often; `Faults` holds the current configuration and
//! draws every decision from the sandbox's seeded generator, so a run with the same seed and the same
//! request sequence fails the same way. It can answer requests with 429 (with `Retry-After`), 500 or
//! 503, add latency, fail writes with 409 Conflict as if another writer had raced, end watch streams
//! after a number of events or a time, expire resourceVersions, pause the controllers, and answer a
//! fraction of ECR calls with `ThrottlingException` (latency applies to ECR calls too).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::kinds::Kind;
use crate::rng::Rng;

/// One rule answering a fraction of matching requests with an error status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorRule {
    /// The verb it applies to (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`), or all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// The resource (plural, e.g. `deployments`) it applies to, or all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The status to answer: 429, 500 or 503.
    pub status: u16,
    /// The fraction of matching requests to fail, in `[0, 1]`.
    pub probability: f64,
    /// `Retry-After` seconds for 429 and 503.
    #[serde(default = "one")]
    pub retry_after_seconds: u32,
}

fn one() -> u32 {
    1
}

/// Everything that can be made to go wrong.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Error answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorRule>,
    /// Real-time delay added before answering every request, in milliseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    /// The fraction of writes (update, patch, status updates) answered with 409 Conflict, as if
    /// another writer had changed the object first.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub write_conflict_probability: f64,
    /// End every watch stream after this many events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_watch_after_events: Option<u32>,
    /// End every watch stream after this many real milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_watch_after_ms: Option<u64>,
    /// The fraction of watch requests answered with an `ERROR` event carrying 410 Expired, which
    /// makes clients relist.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub watch_expired_probability: f64,
    /// Stop the Deployment and ReplicaSet controllers (and the garbage collector) until unpaused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pause_controllers: bool,
    /// Stop the pod simulator until unpaused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pause_kubelet: bool,
    /// The fraction of ECR calls answered with `ThrottlingException` (which AWS SDKs retry).
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub ecr_throttle_probability: f64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f(v: &f64) -> bool {
    *v == 0.0
}

impl FaultConfig {
    /// Checks probabilities and statuses, naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.errors.iter().enumerate() {
            if !matches!(r.status, 429 | 500 | 503) {
                return Err(format!("errors[{i}].status: {} is not one of 429, 500, 503", r.status));
            }
            if !(0.0..=1.0).contains(&r.probability) {
                return Err(format!("errors[{i}].probability: {} is not within [0, 1]", r.probability));
            }
        }
        for (name, p) in [
            ("writeConflictProbability", self.write_conflict_probability),
            ("watchExpiredProbability", self.watch_expired_probability),
            ("ecrThrottleProbability", self.ecr_throttle_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name}: {p} is not within [0, 1]"));
            }
        }
        Ok(())
    }
}

/// The live fault configuration and the generator its decisions come from.
#[derive(Debug)]
pub struct Faults {
    config: RwLock<FaultConfig>,
    rng: Rng,
    pause: tokio::sync::watch::Sender<(bool, bool)>,
}

impl Faults {
    /// No faults, decisions seeded by `seed`.
    pub fn new(seed: u64) -> Arc<Self> {
        let (pause, _) = tokio::sync::watch::channel((false, false));
        Arc::new(Self { config: RwLock::new(FaultConfig::default()), rng: Rng::new(seed ^ 0xFA17), pause })
    }

    /// The current configuration.
    pub fn config(&self) -> FaultConfig {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the configuration.
    pub fn set(&self, config: FaultConfig) -> Result<(), String> {
        config.validate()?;
        let pauses = (config.pause_controllers, config.pause_kubelet);
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
        self.pause.send_replace(pauses);
        Ok(())
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.set(FaultConfig::default()).expect("the empty configuration is valid");
    }

    /// Watches the (controllers paused, kubelet paused) flags.
    pub fn pauses(&self) -> tokio::sync::watch::Receiver<(bool, bool)> {
        self.pause.subscribe()
    }

    /// The latency to add before answering.
    pub fn latency(&self) -> Option<Duration> {
        let ms = self.config.read().unwrap_or_else(|p| p.into_inner()).latency_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// Decides whether this request fails, and how.
    pub fn request_error(&self, verb: &str, kind: Option<Kind>) -> Option<ApiError> {
        let cfg = self.config.read().unwrap_or_else(|p| p.into_inner());
        let plural = kind.map(|k| k.info().plural);
        for rule in &cfg.errors {
            let verb_ok = rule.verb.as_deref().is_none_or(|v| v == verb);
            let res_ok = rule.resource.as_deref().is_none_or(|r| Some(r) == plural);
            if verb_ok && res_ok && self.rng.chance(rule.probability) {
                return Some(match rule.status {
                    429 => ApiError::too_many_requests(rule.retry_after_seconds),
                    503 => ApiError::service_unavailable(rule.retry_after_seconds),
                    _ => ApiError::internal("injected fault"),
                });
            }
        }
        None
    }

    /// Decides whether this write loses a race with an imaginary other writer.
    pub fn write_conflict(&self) -> bool {
        let p = self.config.read().unwrap_or_else(|p| p.into_inner()).write_conflict_probability;
        self.rng.chance(p)
    }

    /// Decides whether this watch starts with 410 Expired.
    pub fn watch_expired(&self) -> bool {
        let p = self.config.read().unwrap_or_else(|p| p.into_inner()).watch_expired_probability;
        self.rng.chance(p)
    }

    /// Decides whether this ECR call is throttled.
    pub fn ecr_throttle(&self) -> bool {
        let p = self.config.read().unwrap_or_else(|p| p.into_inner()).ecr_throttle_probability;
        self.rng.chance(p)
    }

    /// When to end a watch stream: after how many events and after how long.
    pub fn watch_limits(&self) -> (Option<u32>, Option<Duration>) {
        let cfg = self.config.read().unwrap_or_else(|p| p.into_inner());
        (cfg.drop_watch_after_events, cfg.drop_watch_after_ms.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rules_apply_to_their_verb_and_resource_only() {
        let f = Faults::new(1);
        f.set(FaultConfig {
            errors: vec![ErrorRule {
                verb: Some("patch".into()),
                resource: Some("deployments".into()),
                status: 429,
                probability: 1.0,
                retry_after_seconds: 2,
            }],
            ..Default::default()
        })
        .unwrap();
        let e = f.request_error("patch", Some(Kind::Deployment)).unwrap();
        assert_eq!((e.code, e.retry_after), (429, Some(2)));
        assert!(f.request_error("get", Some(Kind::Deployment)).is_none());
        assert!(f.request_error("patch", Some(Kind::Pod)).is_none());
        f.clear();
        assert!(f.request_error("patch", Some(Kind::Deployment)).is_none());
    }

    #[test]
    fn the_same_seed_fails_the_same_requests() {
        let cfg = FaultConfig {
            errors: vec![ErrorRule {
                verb: None,
                resource: None,
                status: 503,
                probability: 0.5,
                retry_after_seconds: 1,
            }],
            ..Default::default()
        };
        let run = || {
            let f = Faults::new(9);
            f.set(cfg.clone()).unwrap();
            (0..64).map(|_| f.request_error("get", None).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn invalid_configurations_name_the_field() {
        let f = Faults::new(1);
        let e = f
            .set(FaultConfig {
                errors: vec![ErrorRule {
                    verb: None,
                    resource: None,
                    status: 404,
                    probability: 0.5,
                    retry_after_seconds: 1,
                }],
                ..Default::default()
            })
            .unwrap_err();
        assert!(e.starts_with("errors[0].status"), "{e}");
        let e = f.set(FaultConfig { write_conflict_probability: 2.0, ..Default::default() }).unwrap_err();
        assert!(e.starts_with("writeConflictProbability"), "{e}");
    }

    #[test]
    fn ecr_throttling_follows_its_probability() {
        let f = Faults::new(5);
        assert!((0..100).all(|_| !f.ecr_throttle()));
        f.set(FaultConfig { ecr_throttle_probability: 1.0, ..Default::default() }).unwrap();
        assert!((0..100).all(|_| f.ecr_throttle()));
        let cfg: FaultConfig = serde_json::from_str(r#"{"ecrThrottleProbability":0.25,"latencyMs":5}"#).unwrap();
        assert_eq!((cfg.ecr_throttle_probability, cfg.latency_ms), (0.25, 5));
        let e = f.set(FaultConfig { ecr_throttle_probability: 1.5, ..Default::default() }).unwrap_err();
        assert!(e.starts_with("ecrThrottleProbability"), "{e}");
    }

    #[test]
    fn configurations_parse_from_camel_case_json() {
        let cfg: FaultConfig = serde_json::from_str(
            r#"{"errors":[{"verb":"get","status":429,"probability":0.1}],"dropWatchAfterEvents":3,"pauseControllers":true}"#,
        )
        .unwrap();
        assert_eq!(cfg.errors[0].retry_after_seconds, 1);
        assert_eq!(cfg.drop_watch_after_events, Some(3));
        assert!(cfg.pause_controllers);
        assert!(serde_json::from_str::<FaultConfig>(r#"{"nope":1}"#).is_err());
    }
}
