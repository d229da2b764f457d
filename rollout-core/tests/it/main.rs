//! Integration tests of rollout-core: one test binary for the crate (link once, run everything).
//!
//! - `registry`: the ECR operations against moto (see `moto` for how the server is found and started).
//! - `crosscheck`: rollout's answers against the aws CLI's and against the sandbox registry's own evaluation.

mod crosscheck;
mod moto;
mod registry;
