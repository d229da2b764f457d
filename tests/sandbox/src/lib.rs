//! rollout-sandbox: an in-process emulator of the Kubernetes API and of ECR for testing rollout.
//!
//! It serves the Kubernetes API over plain HTTP/1.1 on 127.0.0.1 (JSON only), runs the Deployment
//! and ReplicaSet controllers as Kubernetes implements them and a pod simulator with probes, image
//! pulls, crash loops, events and logs, all on a scaled clock, with seeded fault injection. The real
//! `kubectl` and kube-rs work against it unchanged.

pub mod admission;
pub mod clock;
pub mod error;
pub mod kinds;
