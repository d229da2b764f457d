//! The scaled clock: simulated time that runs `1 / scale` times faster than real time.
//!
//! Every simulated duration (probe delays, image pulls, crash-loop backoff, progress deadlines,
//! minReadySeconds) is measured on this clock, and every timestamp written into an object comes from
//! it, so timestamps stay consistent with each other even though a ten-minute deadline passes in six
//! real seconds at a scale of 0.01. Client-facing timeouts (watch `timeoutSeconds`) stay in real time,
//! because clients measure them with their own clocks.

use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

/// How long a sandbox with a fast clock can run before its simulated time passes the wall clock.
pub const HORIZON: Duration = Duration::from_secs(86_400);

/// Simulated time, derived from the real monotonic clock.
#[derive(Debug, Clone)]
pub struct Clock {
    origin_real: Instant,
    origin_sim: Timestamp,
    scale: f64,
}

impl Clock {
    /// A clock that advances `1 / scale` simulated seconds per real second. `scale` is clamped into
    /// `[1e-4, 1e3]`.
    ///
    /// A fast clock starts in the past, far enough that it does not overtake the wall clock within
    /// a day of real time (`HORIZON`): clients such as kubectl compute ages from their own clock and
    /// print `<invalid>` for timestamps in the future. At scale 1 simulated time is real time.
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() { scale.clamp(1e-4, 1e3) } else { 1.0 };
        let lead = if scale < 1.0 { HORIZON.mul_f64(1.0 / scale - 1.0) } else { Duration::ZERO };
        let origin_sim = Timestamp::now() - jiff::SignedDuration::try_from(lead).unwrap_or(jiff::SignedDuration::ZERO);
        Self { origin_real: Instant::now(), origin_sim, scale }
    }

    /// The factor real durations are multiplied by: 0.01 means a simulated second lasts 10 ms.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The current simulated time.
    pub fn now(&self) -> Timestamp {
        self.sim_at(Instant::now())
    }

    fn sim_at(&self, real: Instant) -> Timestamp {
        let real_elapsed = real.saturating_duration_since(self.origin_real);
        let sim_elapsed = real_elapsed.div_f64(self.scale);
        self.origin_sim + jiff::SignedDuration::try_from(sim_elapsed).unwrap_or(jiff::SignedDuration::MAX)
    }

    /// The real instant at which simulated time reaches `at` (now, if `at` is in the past).
    pub fn real_instant(&self, at: Timestamp) -> Instant {
        let sim_elapsed = at.duration_since(self.origin_sim);
        if sim_elapsed.is_negative() {
            return self.origin_real;
        }
        let sim = Duration::try_from(sim_elapsed).unwrap_or(Duration::MAX);
        let real = Duration::try_from_secs_f64(sim.as_secs_f64() * self.scale).unwrap_or(Duration::MAX);
        self.origin_real.checked_add(real).unwrap_or_else(far_future)
    }

    /// The real duration that a simulated duration lasts.
    pub fn real_duration(&self, sim: Duration) -> Duration {
        Duration::try_from_secs_f64(sim.as_secs_f64() * self.scale).unwrap_or(Duration::MAX)
    }

    /// Sleeps until simulated time reaches `at`.
    pub async fn sleep_until(&self, at: Timestamp) {
        tokio::time::sleep_until(self.real_instant(at)).await;
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Formats a timestamp the way Kubernetes serialises `metav1.Time`: RFC 3339, whole seconds, UTC.
pub fn rfc3339(t: Timestamp) -> String {
    let secs = t.as_second();
    Timestamp::from_second(secs).unwrap_or(t).to_string()
}

/// Formats a timestamp with microseconds, as Kubernetes serialises `metav1.MicroTime`.
pub fn rfc3339_micros(t: Timestamp) -> String {
    let micros = t.as_microsecond();
    let t = Timestamp::from_microsecond(micros).unwrap_or(t);
    format!("{}", t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// Formats a timestamp with nanoseconds, as the kubelet prefixes log lines with `timestamps=true`.
pub fn rfc3339_nanos(t: Timestamp) -> String {
    format!("{}", t.strftime("%Y-%m-%dT%H:%M:%S%.9fZ"))
}

/// Parses a Kubernetes timestamp.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_runs_faster_by_the_inverse_of_the_scale() {
        let clock = Clock::new(0.01);
        let at = clock.origin_sim + jiff::SignedDuration::from_secs(100);
        let real = clock.real_instant(at).duration_since(clock.origin_real);
        assert_eq!(real, Duration::from_secs(1));
        assert_eq!(clock.real_duration(Duration::from_secs(600)), Duration::from_secs(6));
    }

    #[test]
    fn timestamps_are_whole_seconds_in_utc() {
        let t: Timestamp = "2026-01-02T03:04:05.678Z".parse().unwrap();
        assert_eq!(rfc3339(t), "2026-01-02T03:04:05Z");
        assert_eq!(rfc3339_micros(t), "2026-01-02T03:04:05.678000Z");
    }

    #[test]
    fn instants_before_the_origin_are_due_at_once() {
        let clock = Clock::new(0.5);
        let past = clock.origin_sim - jiff::SignedDuration::from_secs(10);
        assert_eq!(clock.real_instant(past), clock.origin_real);
    }
}
