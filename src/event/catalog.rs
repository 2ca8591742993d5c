//! The deployed event and channel definitions, as one immutable snapshot: what the
//! Flowable query endpoints list and what an event is resolved against. The admin API
//! builds a new [`Catalog`] whenever deployments change and installs it
//! ([`Events::install`](super::Events::install)); readers never lock.

use std::sync::Arc;

use super::model::{ChannelModel, Direction, EventModel};

/// What every deployed definition carries besides its model (Flowable's definition JSON,
/// F18).
#[derive(Debug, Clone)]
pub(crate) struct DefinitionInfo {
    /// A UUID, stable across restarts.
    pub(crate) id: String,
    /// The model's `key`.
    pub(crate) key: String,
    /// 1 for the first deployment of a key, then one more for each.
    pub(crate) version: i64,
    pub(crate) name: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) description: Option<String>,
    /// The deployment that made it.
    pub(crate) deployment_id: String,
    /// The resource of the deployment that holds it (`orders/orderPlaced.event`).
    pub(crate) resource_name: String,
    /// The deployment's tenant, `""` when none.
    pub(crate) tenant_id: String,
}

/// One version of an event definition.
#[derive(Debug, Clone)]
pub(crate) struct EventDefinition {
    pub(crate) info: DefinitionInfo,
    pub(crate) model: EventModel,
}

/// One version of a channel definition.
#[derive(Debug, Clone)]
pub(crate) struct ChannelDefinition {
    pub(crate) info: DefinitionInfo,
    pub(crate) model: ChannelModel,
}

/// Every deployed version of every event and channel definition.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    /// Sorted by key, then version.
    pub(crate) events: Vec<Arc<EventDefinition>>,
    /// Sorted by key, then version.
    pub(crate) channels: Vec<Arc<ChannelDefinition>>,
}

impl Catalog {
    /// A catalog of `events` and `channels`, in any order.
    pub(crate) fn new(
        mut events: Vec<Arc<EventDefinition>>,
        mut channels: Vec<Arc<ChannelDefinition>>,
    ) -> Self {
        events.sort_by(|a, b| {
            (a.info.key.as_str(), a.info.version).cmp(&(b.info.key.as_str(), b.info.version))
        });
        channels.sort_by(|a, b| {
            (a.info.key.as_str(), a.info.version).cmp(&(b.info.key.as_str(), b.info.version))
        });
        Catalog { events, channels }
    }

    /// The event definition of id `id`.
    pub(crate) fn event(&self, id: &str) -> Option<&Arc<EventDefinition>> {
        self.events.iter().find(|e| e.info.id == id)
    }

    /// The newest version of the event `key` of tenant `tenant` (`""`: no tenant),
    /// falling back to the definitions without a tenant.
    pub(crate) fn latest_event(&self, key: &str, tenant: &str) -> Option<&Arc<EventDefinition>> {
        latest(&self.events, key, tenant, |e| &e.info)
    }

    /// The channel definition of id `id`.
    pub(crate) fn channel(&self, id: &str) -> Option<&Arc<ChannelDefinition>> {
        self.channels.iter().find(|c| c.info.id == id)
    }

    /// The newest version of the channel `key` of tenant `tenant`, falling back to the
    /// definitions without a tenant.
    pub(crate) fn latest_channel(
        &self,
        key: &str,
        tenant: &str,
    ) -> Option<&Arc<ChannelDefinition>> {
        latest(&self.channels, key, tenant, |c| &c.info)
    }

    /// The newest version of every inbound channel fss runs (`http`, `rabbit`).
    pub(crate) fn inbound_channels(&self) -> Vec<Arc<ChannelDefinition>> {
        self.channels
            .iter()
            .filter(|c| c.model.direction == Direction::Inbound && c.model.is_run())
            .filter(|c| {
                self.latest_channel(&c.info.key, &c.info.tenant_id)
                    .is_some_and(|l| l.info.id == c.info.id)
            })
            .cloned()
            .collect()
    }
}

fn latest<'a, T>(
    all: &'a [Arc<T>],
    key: &str,
    tenant: &str,
    info: impl Fn(&T) -> &DefinitionInfo,
) -> Option<&'a Arc<T>> {
    let newest = |t: &str| {
        all.iter()
            .filter(|d| info(d).key == key && info(d).tenant_id == t)
            .max_by_key(|d| info(d).version)
    };
    newest(tenant).or_else(|| if tenant.is_empty() { None } else { newest("") })
}
