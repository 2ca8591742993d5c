//! Following a registry that other instances write (`--database`): what they deploy,
//! undeploy and change of users, API keys and OAuth providers reaches this instance.
//!
//! The registry's change counter ([`Registry::watch`]) moves after every write of any
//! instance; [`Admin::follow`] then reads the registry whole and makes this instance's
//! memory agree with it, under the change lock, so a follow-up never interleaves with a
//! deploy of this instance: a new deployment's folder is unpacked from the registry's copy
//! (when this instance has none), its services mounted where it is the newest version and
//! its definitions installed; a deleted one is forgotten, the newest remaining version of
//! each of its services mounted instead, and its folder removed once unused. The embedded
//! registry has no counter (only this instance writes it): nothing is followed then.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::deployments::{self as folders, Staging};
use crate::store::registry::{Deployment, Registry};

use super::{deployments, load_model, Admin};

/// Writes the folder of deployment `d` from the registry's copy of its files, unless this
/// instance has it already or the registry keeps no copy. Blocking.
///
/// # Errors
///
/// The files cannot be read from the registry or written.
pub(super) fn materialize(data_dir: &Path, registry: &dyn Registry, d: &Deployment) -> Result<()> {
    if folders::deployment_dir(data_dir, &d.id).is_dir() {
        return Ok(());
    }
    let Some(files) = registry.deployment_files(&d.id)? else {
        return Ok(());
    };
    let write = |e: std::io::Error| Error::io("writing a deployment's files", &e);
    let staging = Staging::new(data_dir, &d.id).map_err(write)?;
    for f in files {
        let mut out = staging.create(&f.name, f.mode).map_err(write)?;
        out.write_all(&f.bytes).map_err(write)?;
        out.finish().map_err(write)?;
    }
    staging.commit().map_err(write)?;
    tracing::info!(deployment = %d.id, "Deployment of another instance unpacked.");
    Ok(())
}

impl Admin {
    /// Follows the registry's change counter until the runtime ends: each move makes this
    /// instance agree with the registry ([`Admin::sync`]).
    pub(crate) async fn follow(self: Arc<Self>, mut changes: tokio::sync::watch::Receiver<i64>) {
        while changes.changed().await.is_ok() {
            if let Err(e) = self.sync().await {
                tracing::warn!(error = %e, "The registry cannot be followed now; retried at its next change.");
            }
        }
    }

    /// Reads the registry and makes the deployments, mounts, Event Registry catalog,
    /// users, API keys and OAuth providers of this instance agree with it.
    ///
    /// # Errors
    ///
    /// The registry cannot be read; nothing changed then.
    pub(crate) async fn sync(self: &Arc<Self>) -> Result<()> {
        let _changes = self.changes.lock().await;
        let loaded = self.db(|r| r.load()).await?;
        self.auth.refresh(loaded.users, loaded.api_keys);
        let oauth = Arc::clone(&self.shared.oauth);
        if let Err(e) = tokio::task::spawn_blocking(move || oauth.reload())
            .await
            .map_err(Error::internal)?
        {
            tracing::warn!(error = %e, "OAuth providers not reloaded.");
        }

        let (added, removed): (Vec<Deployment>, Vec<String>) = {
            let st = self.lock();
            let known: HashSet<&str> = loaded.deployments.iter().map(|d| d.id.as_str()).collect();
            (
                loaded
                    .deployments
                    .iter()
                    .filter(|d| !st.deployments.contains_key(&d.id))
                    .cloned()
                    .collect(),
                st.deployments
                    .keys()
                    .filter(|id| !known.contains(id.as_str()))
                    .cloned()
                    .collect(),
            )
        };
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let (a, new) = (Arc::clone(self), added.clone());
        let unpacked: Vec<(String, Result<()>)> = tokio::task::spawn_blocking(move || {
            new.iter()
                .map(|d| (d.id.clone(), materialize(&a.data_dir, &*a.registry, d)))
                .collect()
        })
        .await
        .map_err(Error::internal)?;

        let mut keys: HashSet<String> = HashSet::new();
        let mut drained = Vec::new();
        for id in &removed {
            let (k, in_use) = deployments::forget(self, id);
            keys.extend(k);
            drained.push((id.clone(), in_use));
        }
        {
            let mut st = self.lock();
            for d in added {
                if let Some((_, Err(e))) = unpacked.iter().find(|(id, _)| *id == d.id) {
                    tracing::warn!(deployment = %d.id, error = %e,
                        "Deployment of another instance cannot be unpacked; it is not mounted.");
                    continue;
                }
                for s in loaded.services.iter().filter(|s| s.deployment_id == d.id) {
                    keys.insert(s.key.clone());
                    st.services.insert(s.id.clone(), s.clone());
                }
                for def in loaded
                    .definitions
                    .iter()
                    .filter(|x| x.deployment_id == d.id)
                {
                    match load_model(&self.data_dir, def) {
                        Ok(model) => st.add_definition(def.clone(), model, &d.tenant_id),
                        Err(p) => {
                            tracing::warn!(key = %def.key, problems = %p,
                                "Deployed definition cannot be loaded; it is not installed.");
                            st.definitions.insert(def.id.clone(), def.clone());
                        }
                    }
                }
                st.deployments.insert(d.id.clone(), d);
            }
        }
        let (a, keys): (Arc<Admin>, Vec<String>) = (Arc::clone(self), keys.into_iter().collect());
        let mounted = tokio::task::spawn_blocking(move || a.reconcile(&keys))
            .await
            .map_err(Error::internal)?;
        self.install_catalog();
        for (id, in_use) in drained {
            deployments::remove_when_unused(self.data_dir.clone(), id, in_use);
        }
        tracing::info!(
            added = unpacked.len(),
            removed = removed.len(),
            mounted,
            "Deployments of other instances followed."
        );
        Ok(())
    }
}
