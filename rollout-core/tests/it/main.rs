//! Integration tests of rollout-core: scenarios against the in-process sandbox (or a real cluster,
//! see `cluster.rs`), one test binary for the whole crate.

mod cluster;
mod deploy;
mod history;
mod inuse;
mod wait;
