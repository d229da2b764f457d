//! Integration tests of the sandbox: one test binary for the crate.

mod controller;
mod invariants;
mod kubectl;
mod kubectl_support;
