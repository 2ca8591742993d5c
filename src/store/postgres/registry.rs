//! The PostgreSQL [`Registry`]: users, API keys, deployments with their resources (bytes
//! included, so that every instance can unpack them), service versions, event and channel
//! definitions, OAuth providers — shared by every instance of one database.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::registry::{
    ApiKey, Deployment, EventRegistryDefinition, Loaded, Registry, SealedProvider, ServiceVersion,
    User,
};

use super::Pg;

/// The statements of this store's migration.
pub(super) const MIGRATION: &str = "";

/// The registry in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgRegistry {
    #[allow(dead_code)]
    pg: Arc<Pg>,
}

impl PgRegistry {
    /// The registry in `pg`.
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        PgRegistry { pg }
    }
}

fn unbuilt() -> Error {
    Error::Unavailable("the PostgreSQL registry is not built yet".into())
}

impl Registry for PgRegistry {
    fn load(&self) -> Result<Loaded> {
        Err(unbuilt())
    }
    fn put_user(&self, _user: &User) -> Result<()> {
        Err(unbuilt())
    }
    fn delete_user(&self, _id: &str) -> Result<bool> {
        Err(unbuilt())
    }
    fn insert_api_key(&self, _key: &ApiKey) -> Result<()> {
        Err(unbuilt())
    }
    fn revoke_api_key(&self, _id: &str, _revoked_ms: i64) -> Result<bool> {
        Err(unbuilt())
    }
    fn insert_deployment(
        &self,
        _d: &Deployment,
        _services: &[ServiceVersion],
        _definitions: &[EventRegistryDefinition],
    ) -> Result<()> {
        Err(unbuilt())
    }
    fn delete_deployment(&self, _id: &str) -> Result<bool> {
        Err(unbuilt())
    }
    fn oauth_providers(&self) -> Result<Vec<SealedProvider>> {
        Err(unbuilt())
    }
    fn put_oauth_providers(&self, _all: &[SealedProvider]) -> Result<()> {
        Err(unbuilt())
    }
    fn delete_oauth_provider(&self, _connector: &str, _provider: &str) -> Result<bool> {
        Err(unbuilt())
    }
    fn ping(&self) -> Result<()> {
        Err(unbuilt())
    }
    fn check_writable(&self) -> Result<()> {
        Err(unbuilt())
    }
}
