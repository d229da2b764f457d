//! The Deployment controller, ported from `k8s.io/kubernetes/pkg/controller/deployment`
//! (`deployment_controller.go`, `sync.go`, `rolling.go`, `recreate.go`, `progress.go`): ReplicaSet
//! adoption, new ReplicaSets named by the pod-template hash with revision bookkeeping, rolling and
//! recreate rollouts with the exact fencepost arithmetic, proportional scaling, pause and resume,
//! revision-history cleanup, and the status with its `Available`, `Progressing` and `ReplicaFailure`
//! conditions, reasons and messages.
//!
//! Function names follow the Go originals so the two can be read side by side. Writes merge only the
//! fields the controller owns into the stored object, so a client's concurrent change is never
//! overwritten; the change it makes enqueues another sync.

use std::cmp::Ordering;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::model::{
    Condition, Dep, DeploymentStatus, MAX_REVISION_HISTORY_CHARS, POD_TEMPLATE_HASH, REVISION, REVISION_HISTORY, Rs,
    SKIP_COPY, equal_ignore_hash, get_condition, pod_template_hash, remove_condition, set_condition,
};
use super::{Ctx, Requeue, Work};
use crate::clock::parse_time;
use crate::events::EventType;
use crate::json;
use crate::kinds::Kind;
use crate::selector::LabelSelector;
use crate::store::{Noted, Subresource};

const PROGRESSING: &str = "Progressing";
const AVAILABLE: &str = "Available";
const REPLICA_FAILURE: &str = "ReplicaFailure";
const COMPONENT: &str = "deployment-controller";

struct Sync<'a, 'c> {
    ctx: &'a Ctx<'c>,
    d: Dep,
    /// The stored Deployment, for events.
    obj: std::sync::Arc<Value>,
    requeue: Requeue,
}

/// Syncs one Deployment (`syncDeployment`).
pub fn sync(ctx: &Ctx<'_>, ns: &str, name: &str) -> Requeue {
    let Ok(obj) = ctx.store.get(Kind::Deployment, ns, name) else { return Vec::new() };
    let d = Dep::from_json(&obj);
    let mut s = Sync { ctx, d, obj, requeue: Vec::new() };
    s.run();
    s.requeue
}

impl Sync<'_, '_> {
    fn event(&self, t: EventType, reason: &str, message: &str) {
        self.ctx.events.record(&self.obj, None, t, reason, message, COMPONENT, self.ctx.now);
    }

    fn run(&mut self) {
        let selector = LabelSelector::from_label_selector(&self.d.selector).unwrap_or_default();
        if selector.is_empty() {
            self.event(
                EventType::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            );
            if self.d.status.observed_generation < self.d.generation {
                self.d.status.observed_generation = self.d.generation;
                self.update_status();
            }
            return;
        }
        let rs_list = self.get_replica_sets_for_deployment(&selector);
        if self.d.deleting {
            let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(&rs_list, false);
            self.sync_deployment_status(&old, new_rs.as_ref());
            return;
        }
        self.check_paused_conditions();
        if self.d.paused {
            self.sync(&rs_list);
            return;
        }
        if self.is_scaling_event(&rs_list) {
            self.sync(&rs_list);
            return;
        }
        if self.d.recreate { self.rollout_recreate(&rs_list, &selector) } else { self.rollout_rolling(&rs_list) }
    }

    /// Writes the Deployment's status and revision annotation through the status subresource.
    fn update_status(&mut self) {
        let status = self.d.status.to_json();
        let revision = self.d.annotations.get(REVISION).cloned();
        let result =
            self.ctx.store.modify(Kind::Deployment, &self.d.ns, &self.d.name, Subresource::Status, false, |cur| {
                let mut n = cur.clone();
                n["status"] = status;
                if let Some(r) = revision {
                    json::set_annotation(&mut n, REVISION, Some(r));
                }
                Ok(n)
            });
        if let Some((stored, _)) = result.noted(self.ctx.store, "the deployment controller's status update") {
            self.obj = stored;
        }
    }

    /// `getReplicaSetsForDeployment`: the ReplicaSets this Deployment controls, adopting orphans
    /// that match its selector and releasing owned ones that no longer do.
    fn get_replica_sets_for_deployment(&mut self, selector: &LabelSelector) -> Vec<Rs> {
        let Ok(page) = self.ctx.store.list(Kind::ReplicaSet, Some(&self.d.ns), &|_| true, None, None) else {
            return Vec::new();
        };
        let mut owned = Vec::new();
        for obj in page.items {
            // ReplicaSets of other controllers are skipped before they are parsed: parsing every
            // ReplicaSet of the namespace on every sync made a namespace of many Deployments quadratic.
            if json::controller_uid(&obj).is_some_and(|uid| uid != self.d.uid) {
                continue;
            }
            let rs = Rs::from_json(&obj);
            let matches = selector.matches(&rs.labels);
            match rs.controller_uid.as_deref() {
                Some(uid) if uid == self.d.uid => {
                    if matches {
                        owned.push(rs);
                    } else if !self.d.deleting {
                        self.release(&rs);
                    }
                }
                None if matches && !self.d.deleting && !rs.deleting => {
                    if let Some(adopted) = self.adopt(&rs) {
                        owned.push(adopted);
                    }
                }
                _ => {}
            }
        }
        owned
    }

    fn owner_ref(&self) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "name": self.d.name, "uid": self.d.uid,
            "controller": true, "blockOwnerDeletion": true
        })
    }

    fn adopt(&self, rs: &Rs) -> Option<Rs> {
        let owner = self.owner_ref();
        self.ctx
            .store
            .modify(Kind::ReplicaSet, &rs.ns, &rs.name, Subresource::Main, false, |cur| {
                let mut n = cur.clone();
                let refs = json::ensure_obj(&mut n, &["metadata"]).entry("ownerReferences").or_insert(json!([]));
                if let Some(a) = refs.as_array_mut() {
                    a.push(owner);
                }
                Ok(n)
            })
            .noted(self.ctx.store, "adopting a replica set")
            .map(|(o, _)| Rs::from_json(&o))
    }

    fn release(&self, rs: &Rs) {
        let uid = self.d.uid.clone();
        self.ctx
            .store
            .modify(Kind::ReplicaSet, &rs.ns, &rs.name, Subresource::Main, false, |cur| {
                let mut n = cur.clone();
                if let Some(a) = n.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                    a.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                }
                Ok(n)
            })
            .noted(self.ctx.store, "releasing a replica set");
    }

    /// `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if self.d.progress_deadline.is_none() {
            return;
        }
        let cond = get_condition(&self.d.status.conditions, PROGRESSING);
        if cond.is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
            return;
        }
        let paused_cond_exists = cond.is_some_and(|c| c.reason == "DeploymentPaused");
        let now = self.ctx.now;
        let condition = if self.d.paused && !paused_cond_exists {
            Condition::new(PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused".into(), now)
        } else if !self.d.paused && paused_cond_exists {
            Condition::new(PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed".into(), now)
        } else {
            return;
        };
        set_condition(&mut self.d.status.conditions, condition);
        self.update_status();
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created if asked) and the old ones.
    fn get_all_replica_sets_and_sync_revision(&mut self, rs_list: &[Rs], create: bool) -> (Option<Rs>, Vec<Rs>) {
        let existing = find_new_replica_set(&self.d, rs_list);
        let old: Vec<Rs> =
            rs_list.iter().filter(|rs| existing.as_ref().is_none_or(|n| n.uid != rs.uid)).cloned().collect();
        let new_rs = self.get_new_replica_set(existing, &old, create);
        (new_rs, old)
    }

    /// `getNewReplicaSet`.
    fn get_new_replica_set(&mut self, existing: Option<Rs>, old: &[Rs], create: bool) -> Option<Rs> {
        let max_old_revision = old.iter().map(Rs::revision).max().unwrap_or(0);
        let new_revision = (max_old_revision + 1).to_string();
        if let Some(mut rs) = existing {
            let annotations_updated =
                set_new_replica_set_annotations(&self.d, &mut rs.annotations, &new_revision, true);
            let min_ready_needs_update = rs.min_ready_seconds != self.d.min_ready_seconds;
            if annotations_updated || min_ready_needs_update {
                let annotations = rs.annotations.clone();
                let min_ready = self.d.min_ready_seconds;
                let written =
                    self.ctx.store.modify(Kind::ReplicaSet, &rs.ns, &rs.name, Subresource::Main, false, |cur| {
                        let mut n = cur.clone();
                        // Only the keys the controller sets: an annotation another writer added
                        // since our read (a health mark, say) must survive, as it would the upstream
                        // controller's resourceVersion-guarded update and retry.
                        for (k, v) in &annotations {
                            json::set_annotation(&mut n, k, Some(v.clone()));
                        }
                        json::set(&mut n, &["spec", "minReadySeconds"], json!(min_ready));
                        Ok(n)
                    });
                return written
                    .noted(self.ctx.store, "updating the new replica set's annotations")
                    .map(|(o, _)| Rs::from_json(&o));
            }
            let mut needs_update =
                set_deployment_revision(&mut self.d, rs.annotations.get(REVISION).cloned().unwrap_or_default());
            if self.d.progress_deadline.is_some() && get_condition(&self.d.status.conditions, PROGRESSING).is_none() {
                let msg = format!("Found new replica set {:?}", rs.name);
                set_condition(
                    &mut self.d.status.conditions,
                    Condition::new(PROGRESSING, "True", "FoundNewReplicaSet", msg, self.ctx.now),
                );
                needs_update = true;
            }
            if needs_update {
                self.update_status();
            }
            return Some(rs);
        }
        if !create {
            return None;
        }
        let collision_count = self.d.status.collision_count;
        let hash = pod_template_hash(&self.d.template, collision_count);
        let mut template = self.d.template.clone();
        json::ensure_obj(&mut template, &["metadata", "labels"]).insert(POD_TEMPLATE_HASH.into(), json!(hash));
        let mut selector = self.d.selector.clone();
        json::ensure_obj(&mut selector, &["matchLabels"]).insert(POD_TEMPLATE_HASH.into(), json!(hash));
        let name = format!("{}-{}", self.d.name, hash);
        let mut new_rs = Rs {
            ns: self.d.ns.clone(),
            name: name.clone(),
            uid: String::new(),
            created: String::new(),
            generation: 1,
            labels: json::string_map(&template, &["metadata", "labels"]),
            annotations: Default::default(),
            controller_uid: Some(self.d.uid.clone()),
            replicas: 0,
            min_ready_seconds: self.d.min_ready_seconds,
            selector: selector.clone(),
            template: template.clone(),
            status_replicas: 0,
            ready: 0,
            available: 0,
            observed_generation: 0,
            conditions: Vec::new(),
            deleting: false,
        };
        let mut all: Vec<Rs> = old.to_vec();
        all.push(new_rs.clone());
        let new_replicas = new_rs_new_replicas(&self.d, &all, &new_rs);
        new_rs.replicas = new_replicas;
        set_new_replica_set_annotations(&self.d, &mut new_rs.annotations, &new_revision, false);
        let body = json!({
            "metadata": {
                "name": name,
                "namespace": self.d.ns,
                "labels": new_rs.labels,
                "annotations": new_rs.annotations,
                "ownerReferences": [self.owner_ref()],
            },
            "spec": {
                "replicas": new_replicas,
                "minReadySeconds": self.d.min_ready_seconds,
                "selector": selector,
                "template": template,
            }
        });
        let mut already_exists = false;
        let created = match self.ctx.store.create(Kind::ReplicaSet, &self.d.ns, body, false) {
            Ok(o) => Rs::from_json(&o),
            Err(e) if e.reason == "AlreadyExists" => {
                let Ok(found) = self.ctx.store.get(Kind::ReplicaSet, &self.d.ns, &name) else { return None };
                let rs = Rs::from_json(&found);
                if rs.controller_uid.as_deref() == Some(self.d.uid.as_str())
                    && equal_ignore_hash(&rs.template, &self.d.template)
                {
                    already_exists = true;
                    rs
                } else {
                    // A hash collision: bump the count so the next sync computes another name.
                    self.d.status.collision_count = Some(collision_count.unwrap_or(0) + 1);
                    self.update_status();
                    self.requeue.push((self.ctx.now, Work::Deployment(self.d.ns.clone(), self.d.name.clone())));
                    return None;
                }
            }
            Err(e) => {
                let msg = format!("Failed to create new replica set {name:?}: {}", e.message);
                if self.d.progress_deadline.is_some() {
                    set_condition(
                        &mut self.d.status.conditions,
                        Condition::new(PROGRESSING, "False", "ReplicaSetCreateError", msg.clone(), self.ctx.now),
                    );
                    self.update_status();
                }
                self.event(EventType::Warning, "FailedCreate", &msg);
                return None;
            }
        };
        if !already_exists && new_replicas > 0 {
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                &format!("Scaled up replica set {} to {new_replicas}", created.name),
            );
        }
        let mut needs_update = set_deployment_revision(&mut self.d, new_revision);
        if !already_exists && self.d.progress_deadline.is_some() {
            let msg = format!("Created new replica set {:?}", created.name);
            set_condition(
                &mut self.d.status.conditions,
                Condition::new(PROGRESSING, "True", "NewReplicaSetCreated", msg, self.ctx.now),
            );
            needs_update = true;
        }
        if needs_update {
            self.update_status();
        }
        Some(created)
    }

    /// `rolloutRolling`.
    fn rollout_rolling(&mut self, rs_list: &[Rs]) {
        let (new_rs, mut old) = self.get_all_replica_sets_and_sync_revision(rs_list, true);
        let Some(mut new_rs) = new_rs else {
            self.sync_rollout_status(&old, None);
            return;
        };
        let mut all = old.clone();
        all.push(new_rs.clone());
        if self.reconcile_new_replica_set(&all, &mut new_rs) {
            self.sync_rollout_status(&old, Some(&new_rs));
            return;
        }
        if self.reconcile_old_replica_sets(&mut old, &new_rs) {
            self.sync_rollout_status(&old, Some(&new_rs));
            return;
        }
        if self.d.complete(&self.d.status) {
            self.cleanup_deployment(&old);
        }
        self.sync_rollout_status(&old, Some(&new_rs));
    }

    /// `reconcileNewReplicaSet`.
    fn reconcile_new_replica_set(&mut self, all: &[Rs], new_rs: &mut Rs) -> bool {
        match new_rs.replicas.cmp(&self.d.replicas) {
            Ordering::Equal => false,
            Ordering::Greater => self.scale_replica_set_and_record_event(new_rs, self.d.replicas),
            Ordering::Less => {
                let count = new_rs_new_replicas(&self.d, all, new_rs);
                self.scale_replica_set_and_record_event(new_rs, count)
            }
        }
    }

    /// `reconcileOldReplicaSets`.
    fn reconcile_old_replica_sets(&mut self, old: &mut [Rs], new_rs: &Rs) -> bool {
        let old_pods: i32 = old.iter().map(|r| r.replicas).sum();
        if old_pods == 0 {
            return false;
        }
        let all_pods = old_pods + new_rs.replicas;
        let min_available = self.d.replicas - self.d.max_unavailable();
        let new_unavailable = new_rs.replicas - new_rs.available;
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let cleaned = self.cleanup_unhealthy_replicas(old, max_scaled_down);
        let scaled = self.scale_down_old_replica_sets_for_rolling_update(old, new_rs);
        cleaned + scaled > 0
    }

    /// `cleanupUnhealthyReplicas`: scale down old ReplicaSets' unavailable pods first, oldest first.
    fn cleanup_unhealthy_replicas(&mut self, old: &mut [Rs], max_cleanup: i32) -> i32 {
        old.sort_by_key(Rs::age_key);
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= max_cleanup {
                break;
            }
            if rs.replicas == 0 || rs.replicas == rs.available {
                continue;
            }
            let count = (max_cleanup - total).min(rs.replicas - rs.available);
            let target = rs.replicas - count;
            self.scale_replica_set_and_record_event(rs, target);
            total += count;
        }
        total
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`.
    fn scale_down_old_replica_sets_for_rolling_update(&mut self, old: &mut [Rs], new_rs: &Rs) -> i32 {
        let min_available = self.d.replicas - self.d.max_unavailable();
        let available: i32 = old.iter().map(|r| r.available).sum::<i32>() + new_rs.available;
        if available <= min_available {
            return 0;
        }
        let total_scale_down = available - min_available;
        let mut total = 0;
        old.sort_by_key(Rs::age_key);
        for rs in old.iter_mut() {
            if total >= total_scale_down {
                break;
            }
            if rs.replicas == 0 {
                continue;
            }
            let count = rs.replicas.min(total_scale_down - total);
            let target = rs.replicas - count;
            self.scale_replica_set_and_record_event(rs, target);
            total += count;
        }
        total
    }

    /// `scaleReplicaSetAndRecordEvent`.
    fn scale_replica_set_and_record_event(&mut self, rs: &mut Rs, new_scale: i32) -> bool {
        if rs.replicas == new_scale {
            return false;
        }
        let op = if rs.replicas < new_scale { "up" } else { "down" };
        self.scale_replica_set(rs, new_scale, op)
    }

    /// `scaleReplicaSet`: writes the size and the desired/max replica annotations.
    fn scale_replica_set(&mut self, rs: &mut Rs, new_scale: i32, op: &str) -> bool {
        let size_needs_update = rs.replicas != new_scale;
        let desired = self.d.replicas;
        let max = self.d.replicas + self.d.max_surge();
        let annotations_need_update = replicas_annotations_need_update(&rs.annotations, desired, max);
        if !(size_needs_update || annotations_need_update) {
            return false;
        }
        let old_scale = rs.replicas;
        let written = self.ctx.store.modify(Kind::ReplicaSet, &rs.ns, &rs.name, Subresource::Main, false, |cur| {
            let mut n = cur.clone();
            json::set(&mut n, &["spec", "replicas"], json!(new_scale));
            json::set_annotation(&mut n, super::model::DESIRED_REPLICAS, Some(desired.to_string()));
            json::set_annotation(&mut n, super::model::MAX_REPLICAS, Some(max.to_string()));
            Ok(n)
        });
        let Some((stored, _)) = written.noted(self.ctx.store, "scaling a replica set") else { return false };
        *rs = Rs::from_json(&stored);
        if size_needs_update {
            self.event(
                EventType::Normal,
                "ScalingReplicaSet",
                &format!("Scaled {op} replica set {} to {new_scale} from {old_scale}", rs.name),
            );
        }
        size_needs_update
    }

    /// `cleanupDeployment`: deletes the oldest idle ReplicaSets beyond `revisionHistoryLimit`.
    fn cleanup_deployment(&mut self, old: &[Rs]) {
        let Some(limit) = self.d.revision_history_limit else { return };
        let mut cleanable: Vec<&Rs> = old.iter().filter(|r| !r.deleting).collect();
        let diff = cleanable.len() as i64 - limit;
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| a.revision().cmp(&b.revision()).then_with(|| a.age_key().cmp(&b.age_key())));
        for rs in cleanable.into_iter().take(diff as usize) {
            if rs.status_replicas != 0 || rs.replicas != 0 || rs.generation > rs.observed_generation || rs.deleting {
                continue;
            }
            self.ctx
                .store
                .delete(Kind::ReplicaSet, &rs.ns, &rs.name, &Default::default())
                .noted(self.ctx.store, "cleaning up an old replica set");
        }
    }

    /// `calculateStatus`.
    fn calculate_status(&self, old: &[Rs], new_rs: Option<&Rs>) -> DeploymentStatus {
        let all = || old.iter().chain(new_rs);
        let available: i32 = all().map(|r| r.available).sum();
        let total: i32 = all().map(|r| r.replicas).sum();
        let mut status = DeploymentStatus {
            observed_generation: self.d.generation,
            replicas: all().map(|r| r.status_replicas).sum(),
            updated: new_rs.map_or(0, |r| r.status_replicas),
            ready: all().map(|r| r.ready).sum(),
            available,
            unavailable: (total - available).max(0),
            collision_count: self.d.status.collision_count,
            conditions: Vec::new(),
        };
        for c in &self.d.status.conditions {
            set_condition(&mut status.conditions, c.clone());
        }
        let now = self.ctx.now;
        let availability = if available >= self.d.replicas - self.d.max_unavailable() {
            Condition::new(
                AVAILABLE,
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                now,
            )
        } else {
            Condition::new(
                AVAILABLE,
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                now,
            )
        };
        set_condition(&mut status.conditions, availability);
        status
    }

    /// `syncDeploymentStatus`.
    fn sync_deployment_status(&mut self, old: &[Rs], new_rs: Option<&Rs>) {
        let status = self.calculate_status(old, new_rs);
        if status != self.d.status {
            self.d.status = status;
            self.update_status();
        }
    }

    /// `syncRolloutStatus`: the status plus the Progressing condition, and the progress-deadline timer.
    fn sync_rollout_status(&mut self, old: &[Rs], new_rs: Option<&Rs>) {
        let mut status = self.calculate_status(old, new_rs);
        let now = self.ctx.now;
        if self.d.progress_deadline.is_none() {
            remove_condition(&mut status.conditions, PROGRESSING);
        }
        let current = get_condition(&self.d.status.conditions, PROGRESSING).cloned();
        let is_complete =
            status.replicas == status.updated && current.as_ref().is_some_and(|c| c.reason == "NewReplicaSetAvailable");
        let subject = |what: &str| match new_rs {
            Some(rs) => format!("ReplicaSet {:?} {what}", rs.name),
            None => format!("Deployment {:?} {what}", self.d.name),
        };
        if self.d.progress_deadline.is_some() && !is_complete {
            if self.d.complete(&status) {
                let c = Condition::new(
                    PROGRESSING,
                    "True",
                    "NewReplicaSetAvailable",
                    subject("has successfully progressed."),
                    now,
                );
                set_condition(&mut status.conditions, c);
            } else if deployment_progressing(&self.d.status, &status) {
                let mut c = Condition::new(PROGRESSING, "True", "ReplicaSetUpdated", subject("is progressing."), now);
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition = cur.last_transition.clone();
                    }
                    remove_condition(&mut status.conditions, PROGRESSING);
                }
                set_condition(&mut status.conditions, c);
            } else if self.timed_out(&status) {
                let c = Condition::new(
                    PROGRESSING,
                    "False",
                    "ProgressDeadlineExceeded",
                    subject("has timed out progressing."),
                    now,
                );
                set_condition(&mut status.conditions, c);
            }
        }
        match replica_failure(old, new_rs) {
            Some(c) => set_condition(&mut status.conditions, c),
            None => remove_condition(&mut status.conditions, REPLICA_FAILURE),
        }
        if status == self.d.status {
            self.requeue_stuck_deployment(&status);
            return;
        }
        self.d.status = status;
        self.update_status();
    }

    /// `DeploymentTimedOut`.
    fn timed_out(&self, status: &DeploymentStatus) -> bool {
        let Some(deadline) = self.d.progress_deadline else { return false };
        let Some(c) = get_condition(&status.conditions, PROGRESSING) else { return false };
        match c.reason.as_str() {
            "NewReplicaSetAvailable" => false,
            "ProgressDeadlineExceeded" => true,
            _ => c
                .last_update
                .as_deref()
                .and_then(parse_time)
                .is_some_and(|from| from + SignedDuration::from_secs(deadline) < self.ctx.now),
        }
    }

    /// `requeueStuckDeployment`: check again once the progress deadline may have passed.
    fn requeue_stuck_deployment(&mut self, status: &DeploymentStatus) {
        let Some(deadline) = self.d.progress_deadline else { return };
        let Some(c) = get_condition(&self.d.status.conditions, PROGRESSING) else { return };
        if self.d.complete(status) || c.reason == "ProgressDeadlineExceeded" {
            return;
        }
        let Some(last) = c.last_update.as_deref().and_then(parse_time) else { return };
        let due = last + SignedDuration::from_secs(deadline);
        let key = Work::Deployment(self.d.ns.clone(), self.d.name.clone());
        let one_second = SignedDuration::from_secs(1);
        let at =
            if due.duration_since(self.ctx.now) < one_second { self.ctx.now + one_second } else { due + one_second };
        self.requeue.push((at, key));
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for a different replica count.
    fn is_scaling_event(&mut self, rs_list: &[Rs]) -> bool {
        let (new_rs, old) = self.get_all_replica_sets_and_sync_revision(rs_list, false);
        old.iter().chain(new_rs.as_ref()).filter(|r| r.replicas > 0).any(|r| {
            r.annotations
                .get(super::model::DESIRED_REPLICAS)
                .and_then(|v| v.parse::<i32>().ok())
                .is_some_and(|desired| desired != self.d.replicas)
        })
    }

    /// `sync`: scaling and cleanup for paused Deployments and scaling events.
    fn sync(&mut self, rs_list: &[Rs]) {
        let (mut new_rs, mut old) = self.get_all_replica_sets_and_sync_revision(rs_list, false);
        self.scale(new_rs.as_mut(), &mut old);
        if self.d.paused {
            self.cleanup_deployment(&old);
        }
        self.sync_deployment_status(&old, new_rs.as_ref());
    }

    /// `scale`: proportional scaling of every active ReplicaSet.
    fn scale(&mut self, mut new_rs: Option<&mut Rs>, old: &mut [Rs]) {
        // FindActiveOrLatest
        old.sort_by_key(|r| std::cmp::Reverse(r.age_key()));
        let active: Vec<usize> = (0..old.len()).filter(|i| old[*i].replicas > 0).collect();
        let new_active = new_rs.as_ref().is_some_and(|r| r.replicas > 0);
        let active_count = active.len() + usize::from(new_active);
        let target = if active_count == 0 {
            if new_rs.is_some() {
                Some(None)
            } else if !old.is_empty() {
                Some(Some(0))
            } else {
                None
            }
        } else if active_count == 1 {
            if new_active { Some(None) } else { Some(Some(active[0])) }
        } else {
            None
        };
        if let Some(which) = target {
            let rs: &mut Rs = match which {
                None => new_rs.as_deref_mut().expect("checked"),
                Some(i) => &mut old[i],
            };
            if rs.replicas != self.d.replicas {
                let mut copy = rs.clone();
                self.scale_replica_set_and_record_event(&mut copy, self.d.replicas);
                *rs = copy;
            }
            return;
        }
        if let Some(n) = new_rs.as_deref()
            && is_saturated(&self.d, n)
        {
            for rs in old.iter_mut().filter(|r| r.replicas > 0) {
                self.scale_replica_set_and_record_event(rs, 0);
            }
            return;
        }
        if self.d.recreate {
            return;
        }
        // Proportional scaling across every active ReplicaSet.
        let mut all: Vec<Rs> = old.iter().chain(new_rs.as_deref()).filter(|r| r.replicas > 0).cloned().collect();
        let all_replicas: i32 = all.iter().map(|r| r.replicas).sum();
        let allowed = if self.d.replicas > 0 { self.d.replicas + self.d.max_surge() } else { 0 };
        let to_add = allowed - all_replicas;
        let op = match to_add.cmp(&0) {
            Ordering::Greater => {
                // ReplicaSetsBySizeNewer: larger first, newer first among equals.
                all.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| b.age_key().cmp(&a.age_key())));
                "up"
            }
            Ordering::Less => {
                // ReplicaSetsBySizeOlder: larger first, older first among equals.
                all.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| a.age_key().cmp(&b.age_key())));
                "down"
            }
            Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = proportion(rs, &self.d, to_add, added);
                sizes.push(rs.replicas + p);
                added += p;
            } else {
                sizes.push(rs.replicas);
            }
        }
        for (i, rs) in all.iter_mut().enumerate() {
            if i == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_replica_set(rs, sizes[i], op);
        }
        for rs in all {
            if let Some(n) = new_rs.as_deref_mut().filter(|n| n.uid == rs.uid) {
                *n = rs;
            } else if let Some(o) = old.iter_mut().find(|o| o.uid == rs.uid) {
                *o = rs;
            }
        }
    }

    /// `rolloutRecreate`: scale every old ReplicaSet to zero, wait until no old pod runs, then
    /// create the new ReplicaSet at full size.
    fn rollout_recreate(&mut self, rs_list: &[Rs], selector: &LabelSelector) {
        let (new_rs, mut old) = self.get_all_replica_sets_and_sync_revision(rs_list, false);
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|r| r.replicas > 0) {
            if self.scale_replica_set_and_record_event(rs, 0) {
                scaled_down = true;
            }
        }
        if scaled_down {
            self.sync_rollout_status(&old, new_rs.as_ref());
            return;
        }
        if self.old_pods_running(new_rs.as_ref(), &old, selector) {
            self.sync_rollout_status(&old, new_rs.as_ref());
            return;
        }
        let mut new_rs = match new_rs {
            Some(rs) => Some(rs),
            None => {
                let (n, o) = self.get_all_replica_sets_and_sync_revision(rs_list, true);
                old = o;
                n
            }
        };
        if let Some(rs) = new_rs.as_mut() {
            self.scale_replica_set_and_record_event(rs, self.d.replicas);
        }
        if self.d.complete(&self.d.status) {
            self.cleanup_deployment(&old);
        }
        self.sync_rollout_status(&old, new_rs.as_ref());
    }

    /// `oldPodsRunning`.
    fn old_pods_running(&self, new_rs: Option<&Rs>, old: &[Rs], selector: &LabelSelector) -> bool {
        if old.iter().map(|r| r.status_replicas).sum::<i32>() > 0 {
            return true;
        }
        let owners: Vec<&str> = old.iter().map(|r| r.uid.as_str()).collect();
        let Ok(pods) =
            self.ctx.store.list(Kind::Pod, Some(&self.d.ns), &|p| selector.matches(&json::labels(p)), None, None)
        else {
            return false;
        };
        pods.items.iter().any(|p| {
            let owner = json::controller_uid(p);
            owner.is_some_and(|o| owners.contains(&o) && new_rs.is_none_or(|n| n.uid != o))
                && !matches!(json::get_str(p, &["status", "phase"]), Some("Failed" | "Succeeded"))
        })
    }
}

/// `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's.
fn find_new_replica_set(d: &Dep, rs_list: &[Rs]) -> Option<Rs> {
    let mut matching: Vec<&Rs> = rs_list.iter().filter(|rs| equal_ignore_hash(&rs.template, &d.template)).collect();
    matching.sort_by_key(|r| r.age_key());
    matching.first().map(|r| (*r).clone())
}

/// `NewRSNewReplicas`: how far the new ReplicaSet may grow now.
pub fn new_rs_new_replicas(d: &Dep, all: &[Rs], new_rs: &Rs) -> i32 {
    if d.recreate {
        return d.replicas;
    }
    let max_total = d.replicas + d.max_surge();
    let current: i32 = all.iter().map(|r| r.replicas).sum();
    if current >= max_total {
        return new_rs.replicas;
    }
    let scale_up = (max_total - current).min(d.replicas - new_rs.replicas);
    new_rs.replicas + scale_up
}

/// `SetDeploymentRevision`.
fn set_deployment_revision(d: &mut Dep, revision: String) -> bool {
    if d.annotations.get(REVISION) == Some(&revision) {
        return false;
    }
    d.annotations.insert(REVISION.into(), revision);
    true
}

/// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, raises the revision, keeps
/// the revision history of a ReplicaSet that becomes new again (a rollback), and sizes a new one.
fn set_new_replica_set_annotations(
    d: &Dep,
    annotations: &mut std::collections::BTreeMap<String, String>,
    new_revision: &str,
    exists: bool,
) -> bool {
    let mut changed = false;
    for (k, v) in &d.annotations {
        if SKIP_COPY.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    let old_revision = annotations.get(REVISION).cloned().unwrap_or_default();
    let old_int = if old_revision.is_empty() {
        0
    } else {
        match old_revision.parse::<i64>() {
            Ok(v) => v,
            Err(_) => return false,
        }
    };
    let new_int: i64 = new_revision.parse().unwrap_or(0);
    if old_int < new_int {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if !old_revision.is_empty() {
            let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.into(), old_revision);
            } else {
                let olds: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old_revision.len() + 1;
                let mut start = 0;
                while total > MAX_REVISION_HISTORY_CHARS && start < olds.len() {
                    total -= olds[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REVISION_HISTORY_CHARS {
                    let mut kept: Vec<&str> = olds[start..].to_vec();
                    kept.push(&old_revision);
                    annotations.insert(REVISION_HISTORY.into(), kept.join(","));
                }
            }
        }
    }
    if !exists {
        let desired = d.replicas.to_string();
        let max = (d.replicas + d.max_surge()).to_string();
        if annotations.get(super::model::DESIRED_REPLICAS) != Some(&desired)
            || annotations.get(super::model::MAX_REPLICAS) != Some(&max)
        {
            annotations.insert(super::model::DESIRED_REPLICAS.into(), desired);
            annotations.insert(super::model::MAX_REPLICAS.into(), max);
            changed = true;
        }
    }
    changed
}

fn replicas_annotations_need_update(
    annotations: &std::collections::BTreeMap<String, String>,
    desired: i32,
    max: i32,
) -> bool {
    annotations.get(super::model::DESIRED_REPLICAS) != Some(&desired.to_string())
        || annotations.get(super::model::MAX_REPLICAS) != Some(&max.to_string())
}

/// `DeploymentProgressing`.
fn deployment_progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    new.updated > old.updated
        || (new.replicas - new.updated) < (old.replicas - old.updated)
        || new.ready > old.ready
        || new.available > old.available
}

/// `getReplicaFailures`: the new ReplicaSet's failure condition, else any old one's.
fn replica_failure(old: &[Rs], new_rs: Option<&Rs>) -> Option<Condition> {
    let from = |rs: &Rs| {
        rs.conditions
            .iter()
            .find(|c| c.type_ == REPLICA_FAILURE)
            .map(|c| Condition { last_update: c.last_transition.clone(), ..c.clone() })
    };
    new_rs.and_then(from).or_else(|| old.iter().chain(new_rs).find_map(from))
}

/// `IsSaturated`.
fn is_saturated(d: &Dep, rs: &Rs) -> bool {
    let desired = rs.annotations.get(super::model::DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok());
    rs.replicas == d.replicas && desired == Some(d.replicas) && rs.available == d.replicas
}

/// `GetProportion`.
fn proportion(rs: &Rs, d: &Dep, to_add: i32, added: i32) -> i32 {
    if rs.replicas == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 { fraction.min(allowed) } else { fraction.max(allowed) }
}

/// `getReplicaSetFraction`.
fn replica_set_fraction(rs: &Rs, d: &Dep) -> i32 {
    if d.replicas == 0 {
        return -rs.replicas;
    }
    let deployment_replicas = d.replicas + d.max_surge();
    let annotated =
        rs.annotations.get(super::model::MAX_REPLICAS).and_then(|v| v.parse::<i32>().ok()).unwrap_or(d.status.replicas);
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(rs.replicas) * f64::from(deployment_replicas) / f64::from(annotated);
    size.round() as i32 - rs.replicas
}

#[allow(dead_code)]
fn now_plus(now: Timestamp, secs: i64) -> Timestamp {
    now + SignedDuration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(replicas: i32, surge: &str, unavailable: &str) -> Dep {
        Dep::from_json(&json!({"metadata": {"name": "web", "generation": 1}, "spec": {
            "replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
        }}))
    }

    fn rs(name: &str, replicas: i32) -> Rs {
        Rs::from_json(&json!({"metadata": {"name": name}, "spec": {"replicas": replicas}}))
    }

    #[test]
    fn the_new_replica_set_grows_only_within_the_surge() {
        let d = dep(3, "1", "0");
        // 3 old + 0 new: may add one pod.
        assert_eq!(new_rs_new_replicas(&d, &[rs("old", 3), rs("new", 0)], &rs("new", 0)), 1);
        // 3 old + 1 new = max total 4: no growth until an old pod goes.
        assert_eq!(new_rs_new_replicas(&d, &[rs("old", 3), rs("new", 1)], &rs("new", 1)), 1);
        assert_eq!(new_rs_new_replicas(&d, &[rs("old", 2), rs("new", 1)], &rs("new", 1)), 2);
        // Never beyond the desired count.
        assert_eq!(new_rs_new_replicas(&dep(3, "100%", "0"), &[rs("new", 2)], &rs("new", 2)), 3);
    }

    #[test]
    fn revision_history_records_the_numbers_a_replica_set_had() {
        let d = dep(1, "1", "0");
        let mut a = std::collections::BTreeMap::new();
        assert!(set_new_replica_set_annotations(&d, &mut a, "1", false));
        assert_eq!(a.get(REVISION).map(String::as_str), Some("1"));
        assert!(!a.contains_key(REVISION_HISTORY));
        assert!(set_new_replica_set_annotations(&d, &mut a, "4", true));
        assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), Some("1"));
        assert!(set_new_replica_set_annotations(&d, &mut a, "6", true));
        assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), Some("1,4"));
        assert_eq!(a.get(REVISION).map(String::as_str), Some("6"));
        // A lower revision never lowers it.
        assert!(!set_new_replica_set_annotations(&d, &mut a, "2", true));
    }

    #[test]
    fn deployment_annotations_are_copied_except_the_controllers_own() {
        let mut d = dep(1, "1", "0");
        d.annotations.insert("kubernetes.io/change-cause".into(), "rollout: web=a:2".into());
        d.annotations.insert(REVISION.into(), "9".into());
        let mut a = std::collections::BTreeMap::new();
        set_new_replica_set_annotations(&d, &mut a, "1", true);
        assert_eq!(a.get("kubernetes.io/change-cause").map(String::as_str), Some("rollout: web=a:2"));
        assert_eq!(a.get(REVISION).map(String::as_str), Some("1"));
    }

    #[test]
    fn proportional_scaling_follows_the_max_replicas_annotation() {
        let d = dep(10, "3", "2");
        let mut r = rs("a", 4);
        r.annotations.insert(super::super::model::MAX_REPLICAS.into(), "13".into());
        // Scaling the deployment to 20 (max 23): 4 * 23 / 13 = 7.07 -> 7, i.e. +3.
        let d20 = Dep { replicas: 20, ..d };
        assert_eq!(replica_set_fraction(&r, &d20), 3);
        assert_eq!(proportion(&r, &d20, 10, 0), 3);
        assert_eq!(proportion(&r, &d20, 2, 0), 2, "never more than allowed");
    }

    #[test]
    fn progress_is_any_of_the_four_signals() {
        let old = DeploymentStatus { replicas: 4, updated: 1, ready: 3, available: 3, ..Default::default() };
        let same = old.clone();
        assert!(!deployment_progressing(&old, &same));
        for s in [
            DeploymentStatus { updated: 2, ..old.clone() },
            DeploymentStatus { replicas: 3, ..old.clone() },
            DeploymentStatus { ready: 4, ..old.clone() },
            DeploymentStatus { available: 4, ..old.clone() },
        ] {
            assert!(deployment_progressing(&old, &s));
        }
    }
}
