//! Integration tests of rollout-core: one test binary for the crate (link once, run everything).
//!
//! - `registry`: the ECR operations against moto (see `moto` for how the server is found and started).

mod moto;
mod registry;
