//! Tests of the `rollout` binary: one test binary for the crate.

mod basics;
mod registry;
mod support;
