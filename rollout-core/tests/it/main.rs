//! Integration tests of rollout-core: one test binary for the crate (link once, run everything).
//!
//! - `registry`: the ECR operations against moto (see `moto` for how the server is found and started).
//! - `crosscheck`: rollout's answers against the aws CLI's and against the sandbox registry's own evaluation.
//! - `deploy`, `wait`, `history`, `inuse`: rollouts, waits, rollbacks and the in-use scan against the
//!   in-process sandbox, or a real cluster (see `cluster` for how one is chosen).

mod cluster;
mod crosscheck;
mod deploy;
mod history;
mod inuse;
mod moto;
mod registry;
mod wait;
