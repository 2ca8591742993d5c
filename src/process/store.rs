//! The `store` builtin: data actions on the tables of the store, file resources on its
//! stored files. One per runtime, shared by every `store` process and by the operations on
//! stored files that no definition names (download and delete by id).

use std::path::PathBuf;

use bytes::Bytes;

use crate::definition::{Builtin, ServiceDefinition};
use crate::error::{Error, Result};
use crate::protocol::MObject;
use crate::store::{FileRecord, Finished, ListQuery, NewFile, Sink, Stores};

pub(crate) use crate::store::{ListQuery as FileQuery, OrderColumn};

/// A file an upload streamed to a temp file, not yet stored.
pub(crate) type SpooledFile = Finished;
/// What an upload streams into: a temp file beside where the file will be stored.
pub(crate) type Spool = Sink;

/// A stored file, as the operations on stored files see it.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    /// Its index row.
    pub(crate) record: FileRecord,
    /// Where its bytes are.
    pub(crate) path: PathBuf,
}

/// The `store` builtin of one runtime.
#[derive(Debug)]
pub struct StoreProcess {
    stores: Stores,
}

impl StoreProcess {
    /// The builtin over `stores`.
    pub(crate) fn new(stores: Stores) -> Self {
        StoreProcess { stores }
    }

    /// Prepares what `def` needs of the store before it is mounted: the table of every
    /// type whose data action runs on the store, the folder of every file resource.
    /// Blocking.
    ///
    /// # Errors
    ///
    /// A property whose stored type changed, a name that cannot be a column, or a data
    /// folder where a database or a folder cannot be made.
    pub(crate) fn prepare(&self, def: &ServiceDefinition) -> Result<()> {
        for d in &def.data_actions {
            let on_store = [&d.load, &d.save, &d.delete]
                .iter()
                .any(|p| p.as_ref().is_some_and(|p| p.is_builtin(Builtin::Store)));
            if !on_store {
                continue;
            }
            let ty = def.type_named(&d.object_type).ok_or_else(|| {
                Error::internal(format!("type '{}' is not defined", d.object_type))
            })?;
            self.stores
                .tables
                .prepare(&def.name, ty, d.key.as_deref())?;
        }
        if def.file_resources.is_empty() {
            return Ok(());
        }
        let paths: Vec<&str> = def.file_resources.iter().map(|f| f.path.as_str()).collect();
        self.stores.files.prepare(&def.name, &paths)
    }

    // === tables ===

    /// The rendered ObjectDataResponse of a table load.
    pub(crate) async fn load(
        &self,
        service: &str,
        type_name: &str,
        filter: Option<&crate::protocol::ListFilter>,
        provided: &[MObject],
    ) -> Result<Bytes> {
        self.stores
            .tables
            .load(service, type_name, filter, provided)
            .await
    }

    /// Saves rows; answers them as stored.
    pub(crate) async fn save(
        &self,
        service: &str,
        type_name: &str,
        objects: &[MObject],
    ) -> Result<Vec<MObject>> {
        self.stores.tables.save(service, type_name, objects).await
    }

    /// Deletes rows by external id.
    pub(crate) async fn delete(
        &self,
        service: &str,
        type_name: &str,
        ids: Vec<String>,
    ) -> Result<()> {
        self.stores.tables.delete(service, type_name, ids).await
    }

    // === files ===

    /// Starts spooling an upload for `resource_path` of `service`.
    pub(crate) fn spool(&self, service: &str, resource_path: &str, exec_id: &str) -> Spool {
        let files = &self.stores.files;
        files.begin(files.folder(service, resource_path), exec_id)
    }

    /// Stores a spooled upload under a fresh id.
    pub(crate) async fn commit(
        &self,
        file: SpooledFile,
        service: &str,
        resource_path: String,
        name: String,
        content_type: String,
    ) -> Result<FileRecord> {
        let files = &self.stores.files;
        let folder = files.folder(service, &resource_path);
        files
            .commit(
                file,
                folder,
                NewFile {
                    service: service.to_owned(),
                    resource_path,
                    name,
                    content_type,
                },
            )
            .await
    }

    /// One page of the stored files of `resource_path`, and whether more follow.
    pub(crate) async fn list(
        &self,
        service: &str,
        resource_path: String,
        query: ListQuery,
    ) -> Result<(Vec<FileRecord>, bool)> {
        self.stores
            .files
            .list(service.to_owned(), resource_path, query)
            .await
    }

    /// The stored file `id` of `service`.
    pub(crate) async fn file(&self, service: &str, id: &str) -> Result<Option<StoredFile>> {
        let files = &self.stores.files;
        let record = files.get(service.to_owned(), id.to_owned()).await?;
        Ok(record.map(|record| StoredFile {
            path: files.path_of(&record),
            record,
        }))
    }

    /// Deletes the stored file `id` of `service`; answers what was deleted.
    pub(crate) async fn remove(&self, service: &str, id: &str) -> Result<Option<FileRecord>> {
        self.stores
            .files
            .delete(service.to_owned(), id.to_owned())
            .await
    }
}
