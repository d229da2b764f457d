//! Durations written the way kubectl and Go write them: `90s`, `10m`, `1h30m`, `1.5h`, `250ms`.
//!
//! The grammar is Go's `time.ParseDuration` without signs: one or more decimal numbers, each with a
//! unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`); a bare `0` is zero. A number without a unit is
//! refused rather than guessed, because `--timeout 10` meaning seconds in one tool and minutes in
//! another is how deployments wait for the wrong time.

use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (use a number with a unit, e.g. 90s, 10m, 1h30m)")]
pub struct DurationError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a duration such as `1h30m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(rollout_core::duration::parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert!(rollout_core::duration::parse_duration("10").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError { input: input.to_string(), reason };
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    if s.starts_with(['-', '+']) {
        return Err(err("durations cannot be signed"));
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err("expected a number"));
        }
        let value: f64 = number.parse().map_err(|_| err("expected a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(err("a number has no unit")),
            _ => return Err(err("unknown unit (use ns, us, ms, s, m or h)")),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err("it is too large"))
}

/// Formats a duration compactly, the inverse of `parse_duration` for whole units: `1h30m`, `45s`,
/// `250ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let frac = d.subsec_millis();
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || frac > 0 {
        if frac > 0 && h == 0 {
            out.push_str(&format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0')));
        } else {
            out.push_str(&format!("{s}s"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse_like_kubectl_timeouts() {
        let table = [
            ("0", 0.0),
            ("90s", 90.0),
            ("10m", 600.0),
            ("1h30m", 5400.0),
            ("1.5h", 5400.0),
            ("250ms", 0.25),
            ("2m30.5s", 150.5),
            ("1h0m0s", 3600.0),
            ("100us", 0.0001),
        ];
        for (text, secs) in table {
            assert_eq!(parse_duration(text).unwrap(), Duration::from_secs_f64(secs), "{text}");
        }
    }

    #[test]
    fn malformed_durations_say_what_is_wrong() {
        for (text, reason) in [
            ("10", "a number has no unit"),
            ("", "it is empty"),
            ("-5s", "durations cannot be signed"),
            ("5d", "unknown unit (use ns, us, ms, s, m or h)"),
            ("s", "expected a number"),
            ("1..2s", "expected a number"),
            ("1h30", "a number has no unit"),
        ] {
            let e = parse_duration(text).unwrap_err();
            assert_eq!(e.reason, reason, "{text}");
            assert!(e.to_string().contains(&format!("{text:?}")));
        }
    }

    #[test]
    fn formatting_is_compact() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(s in ".{0,24}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn whole_second_durations_round_trip(secs in 1u64..1_000_000) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
