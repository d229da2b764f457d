//! One module per subcommand, and the argument parsers they share.

pub mod completions;
pub mod demo;
pub mod deploy;
pub mod history;
pub mod lifecycle;
pub mod previous;
pub mod rollback;
pub mod sandbox;
pub mod status;
pub mod tag;

use std::time::Duration;

/// The default of every `--timeout`: kubectl's progress deadline, 10 minutes.
pub const DEFAULT_TIMEOUT: &str = "10m";

/// Parses a duration such as `90s`, `10m` or `1h30m` (Go's syntax, as kubectl's `--timeout`), for
/// clap.
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = rollout_core::duration::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err(format!("invalid duration {s:?}: a wait needs a timeout above zero (e.g. 90s, 10m, 1h30m)"));
    }
    Ok(d)
}

/// The change-cause and the progress callback every cluster command hands to the core.
pub fn progress(session: &crate::progress::Session) -> impl Fn(&rollout_core::ProgressEvent) + Send + Sync + '_ {
    move |e| session.event(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_need_a_unit_and_a_positive_length() {
        assert_eq!(duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(duration("10").unwrap_err().contains("a number has no unit"));
        assert!(duration("0").unwrap_err().contains("above zero"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn the_timeout_parser_never_panics(s in ".{0,24}") {
            let _ = duration(&s);
        }
    }
}
