//! Integration tests of the sandbox: one test binary for the crate.

mod api;
mod api_support;
mod controller;
mod ecr;
mod invariants;
mod kubectl;
mod kubectl_support;
mod watcher;
