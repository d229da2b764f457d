//! Tests of the `rollout` binary: one test binary for the crate.

mod basics;
mod deploy;
mod history;
mod registry;
mod support;
