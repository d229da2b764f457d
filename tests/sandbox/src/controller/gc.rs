//! The garbage collector and the namespace controller: dependents of deleted owners are deleted
//! (background propagation, kubectl's default), foreground deletions wait for their dependents,
//! orphan deletions strip owner references, and terminating namespaces are emptied and removed.

use serde_json::Value;

use super::{Ctx, Requeue, Work};
use crate::json;
use crate::kinds::Kind;
use crate::store::{DeleteOptions, Noted, Propagation, Subresource, all_kinds};

fn refs_to(obj: &Value, uid: &str) -> bool {
    json::get(obj, &["metadata", "ownerReferences"])
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(uid)))
}

fn dependents(ctx: &Ctx<'_>, ns: &str, uid: &str) -> Vec<(Kind, std::sync::Arc<Value>)> {
    let mut out = Vec::new();
    for kind in all_kinds().filter(|k| k.info().namespaced) {
        let scope = if ns.is_empty() { None } else { Some(ns) };
        if let Ok(page) = ctx.store.list(kind, scope, &|o| refs_to(o, uid), None, None) {
            out.extend(page.items.into_iter().map(|o| (kind, o)));
        }
    }
    out
}

fn has_finalizer(obj: &Value, f: &str) -> bool {
    json::get(obj, &["metadata", "finalizers"]).and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == f))
}

fn remove_finalizer(ctx: &Ctx<'_>, kind: Kind, ns: &str, name: &str, f: &str) {
    ctx.store
        .modify(kind, ns, name, Subresource::Main, false, |cur| {
            let mut n = cur.clone();
            if let Some(a) = n.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
                a.retain(|x| x != f);
                if a.is_empty() {
                    json::remove(&mut n, &["metadata", "finalizers"]);
                }
            }
            Ok(n)
        })
        .noted(ctx.store, "removing a finalizer");
}

/// Handles the dependents of an owner that is gone or being deleted.
pub fn sync_owner(ctx: &Ctx<'_>, kind: Kind, ns: &str, name: &str, uid: &str) -> Requeue {
    let owner = ctx.store.get(kind, ns, name).ok().filter(|o| json::uid(o) == uid);
    let deps = dependents(ctx, ns, uid);
    match owner {
        // Gone: background deletion of every dependent whose owners are all gone.
        None => {
            for (k, d) in deps {
                orphan_check(ctx, k, json::namespace(&d), json::name(&d));
            }
        }
        Some(o) if has_finalizer(&o, "orphan") => {
            for (k, d) in deps {
                ctx.store
                    .modify(k, json::namespace(&d), json::name(&d), Subresource::Main, false, |cur| {
                        let mut n = cur.clone();
                        if let Some(a) = n.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                            a.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                            if a.is_empty() {
                                json::remove(&mut n, &["metadata", "ownerReferences"]);
                            }
                        }
                        Ok(n)
                    })
                    .noted(ctx.store, "orphaning a dependent");
            }
            remove_finalizer(ctx, kind, ns, name, "orphan");
        }
        Some(o) if has_finalizer(&o, "foregroundDeletion") => {
            if deps.is_empty() {
                remove_finalizer(ctx, kind, ns, name, "foregroundDeletion");
                return Vec::new();
            }
            let opts = DeleteOptions { propagation: Propagation::Foreground, ..Default::default() };
            for (k, d) in &deps {
                if !json::is_deleting(d) {
                    ctx.store
                        .delete(*k, json::namespace(d), json::name(d), &opts)
                        .noted(ctx.store, "deleting a dependent");
                }
            }
            // Checked again when a dependent goes away (its deletion enqueues its owner check) and,
            // as a safety net, a little later.
            return vec![(
                ctx.now + jiff::SignedDuration::from_secs(1),
                Work::Owner(kind, ns.to_string(), name.to_string(), uid.to_string()),
            )];
        }
        Some(_) => {}
    }
    Vec::new()
}

/// Deletes an object whose owner references all point at objects that no longer exist.
pub fn sync_orphan(ctx: &Ctx<'_>, kind: Kind, ns: &str, name: &str) -> Requeue {
    orphan_check(ctx, kind, ns, name);
    Vec::new()
}

fn orphan_check(ctx: &Ctx<'_>, kind: Kind, ns: &str, name: &str) {
    let Ok(obj) = ctx.store.get(kind, ns, name) else { return };
    let Some(refs) = json::get(&obj, &["metadata", "ownerReferences"]).and_then(Value::as_array) else { return };
    if refs.is_empty() {
        return;
    }
    let alive = refs.iter().any(|r| {
        let owner_kind = r.get("kind").and_then(Value::as_str).and_then(Kind::from_name);
        let owner_name = r.get("name").and_then(Value::as_str).unwrap_or("");
        let owner_uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
        match owner_kind {
            Some(k) => ctx.store.get(k, ns, owner_name).is_ok_and(|o| json::uid(&o) == owner_uid),
            // Owners of kinds the sandbox does not serve are assumed to exist.
            None => true,
        }
    });
    if !alive && !json::is_deleting(&obj) {
        ctx.store.delete(kind, ns, name, &DeleteOptions::default()).noted(ctx.store, "collecting an orphan");
    }
}

/// Empties a terminating namespace, then removes it.
pub fn sync_namespace(ctx: &Ctx<'_>, name: &str) -> Requeue {
    let Ok(ns) = ctx.store.get(Kind::Namespace, "", name) else { return Vec::new() };
    if !json::is_deleting(&ns) {
        return Vec::new();
    }
    for kind in all_kinds().filter(|k| k.info().namespaced) {
        if let Ok(page) = ctx.store.list(kind, Some(name), &|_| true, None, None) {
            for obj in page.items {
                ctx.store.remove(kind, name, json::name(&obj));
            }
        }
    }
    ctx.store.remove(Kind::Namespace, "", name);
    Vec::new()
}
