//! File resources on their process: the `store` builtin stores and lists files in the
//! store, a `command` or handler gets the plain document; both answer `$File` objects
//! (the Flow wire protocol: ten properties, an absolute `Download Uri`).
//!
//! A stored listing is ordered by `orderByPropertyDeveloperName` (default `Name`), then by
//! id, so pages never overlap; `limit` 0 or absent means [`DEFAULT_PAGE`] files, at most
//! [`MAX_PAGE`]; `search` is a substring of the name (ASCII letters in any case), at most
//! `store::MAX_SEARCH_CHARS` characters and without NUL (400 otherwise).
//!
//! An upload process reads `resourcePath` and `file` (`path` of the temp file, `size`,
//! `name`, `contentType`) and answers `file`: `$File` property names (or `externalId`) to
//! plain values; a list process reads `resourcePath` and `filter` and answers `files` and
//! `hasMoreResults`.

use serde_json::{json, Value};

use super::store::{FileQuery, OrderColumn, SpooledFile};
use super::{value, Process, ProcessCall};
use crate::error::{Error, Result};
use crate::protocol::{ContentType, FileListFilter, MObject, OrderDirection, Property};
use crate::store::{FileRecord, MAX_SEARCH_CHARS};

/// Files per page when the request gives no limit.
pub(crate) const DEFAULT_PAGE: u32 = 1000;
/// The most files one page may hold.
pub(crate) const MAX_PAGE: u32 = 10_000;
/// The system type name of files.
const FILE_TYPE: &str = crate::definition::FILE_TYPE;
/// `Kind` of every stored file.
const KIND_FILE: &str = "File";

/// One upload, received: what its process works on.
#[derive(Debug)]
pub(crate) struct Upload<'a> {
    /// The service.
    pub(crate) service: &'a str,
    /// The canonical resource path it goes to.
    pub(crate) resource_path: String,
    /// The spooled bytes.
    pub(crate) file: SpooledFile,
    /// The cleaned file name (the `File Name` tracked property).
    pub(crate) name: String,
    /// The content type (the `File Content Type` tracked property).
    pub(crate) content_type: String,
    /// The execution id: a process that answers no `Id` is given this one.
    pub(crate) execution_id: &'a str,
    /// The base of absolute URLs.
    pub(crate) base_url: &'a str,
}

impl Process {
    /// Stores (or hands to the process) an upload; answers its `$File`. `document` builds
    /// the process document of a `command` or handler.
    ///
    /// # Errors
    ///
    /// The store or the process failed, or the process answered a file that is not an
    /// object.
    pub(crate) async fn upload(
        &self,
        upload: Upload<'_>,
        document: impl FnOnce() -> Result<ProcessCall>,
    ) -> Result<FileView> {
        let Upload {
            service,
            resource_path,
            file,
            name,
            content_type,
            execution_id,
            base_url,
        } = upload;
        if let Process::Store(store) = self {
            let record = store
                .commit(file, service, resource_path, name, content_type)
                .await?;
            tracing::debug!(id = %record.id, size = record.size, "File stored.");
            return Ok(FileView::stored(&record, base_url));
        }
        let mut call = document()?;
        call.extra
            .insert("resourcePath".into(), json!(resource_path));
        call.extra.insert(
            "file".into(),
            json!({
                "path": file.path().to_string_lossy(),
                "size": file.size(),
                "name": name,
                "contentType": content_type,
            }),
        );
        let reply = self.call(call).await?;
        // The temp file is the process's to copy or move; what is left is removed when
        // `file` drops.
        drop(file);
        let answered = reply.0.get("file").cloned().unwrap_or(json!({}));
        let defaults = FileView {
            id: execution_id.to_owned(),
            name,
            mime_type: content_type,
            kind: KIND_FILE.to_owned(),
            ..FileView::default()
        };
        FileView::from_reply(&answered, defaults)
    }

    /// One page of the files of `resource_path`, and whether more follow.
    ///
    /// # Errors
    ///
    /// 400 for a filter the store cannot order or page by; the store or the process
    /// failed, or the process answered files that are not objects.
    pub(crate) async fn list(
        &self,
        service: &str,
        resource_path: String,
        filter: &FileListFilter,
        execution_id: &str,
        base_url: &str,
        document: impl FnOnce() -> Result<ProcessCall>,
    ) -> Result<(Vec<FileView>, bool)> {
        if let Process::Store(store) = self {
            let query = list_query(filter)?;
            let (rows, more) = store.list(service, resource_path, query).await?;
            return Ok((
                rows.iter().map(|r| FileView::stored(r, base_url)).collect(),
                more,
            ));
        }
        let mut call = document()?;
        call.extra
            .insert("resourcePath".into(), json!(resource_path));
        call.extra.insert("filter".into(), filter_json(filter));
        let reply = self.call(call).await?;
        let files = match reply.0.get("files") {
            Some(Value::Array(a)) => a.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => {
                return Err(Error::Process(
                    "list process answered \"files\" that is not an array".into(),
                ))
            }
        };
        let objects = files
            .iter()
            .map(|f| {
                let defaults = FileView {
                    id: execution_id.to_owned(),
                    kind: KIND_FILE.to_owned(),
                    ..FileView::default()
                };
                FileView::from_reply(f, defaults)
            })
            .collect::<Result<Vec<_>>>()?;
        let more = reply
            .0
            .get("hasMoreResults")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((objects, more))
    }
}

/// The absolute download URL of file `id` of `service`.
pub(crate) fn download_uri(base: &str, service: &str, id: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "{base}/fs/{}/file/content/{}",
        percent_encoding::utf8_percent_encode(service, SEGMENT),
        percent_encoding::utf8_percent_encode(id, SEGMENT)
    )
}

fn list_query(filter: &FileListFilter) -> Result<FileQuery> {
    let order = match filter
        .order_by_property_developer_name
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
    {
        "" => OrderColumn::Name,
        p => order_column(p).ok_or_else(|| {
            Error::bad_request(format!(
                "cannot order files by '{p}'; $File properties are: Id, Name, Mime Type, \
                 Kind, Description, Download Uri, Embed Uri, Icon Uri, Date Created, \
                 Date Modified"
            ))
        })?,
    };
    let limit = match filter.limit {
        None | Some(0) => DEFAULT_PAGE,
        Some(n) if n < 0 => {
            return Err(Error::bad_request(format!(
                "listFilter.limit must not be negative, got {n}"
            )))
        }
        Some(n) => u32::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    };
    let offset = match filter.offset {
        None => 0,
        Some(n) if n < 0 => {
            return Err(Error::bad_request(format!(
                "listFilter.offset must not be negative, got {n}"
            )))
        }
        Some(n) => n as u64,
    };
    if let Some(search) = filter.search.as_deref() {
        let chars = search.chars().count();
        if chars > MAX_SEARCH_CHARS {
            return Err(Error::bad_request(format!(
                "listFilter.search is {chars} characters long; at most {MAX_SEARCH_CHARS} \
                 are accepted"
            )));
        }
        if search.contains('\0') {
            return Err(Error::bad_request(
                "listFilter.search contains a NUL character, which substring matching \
                 cannot match",
            ));
        }
    }
    Ok(FileQuery {
        order,
        descending: filter.order_by_direction_type == Some(OrderDirection::Desc),
        limit,
        offset,
        search: filter.search.clone(),
    })
}

/// The store column a `$File` property orders by; properties that are the same for every
/// stored file (Kind, Description, Icon Uri) order by name, the URIs by id.
fn order_column(property: &str) -> Option<OrderColumn> {
    let p = property.to_ascii_lowercase();
    Some(match p.as_str() {
        "name" | "kind" | "description" | "icon uri" => OrderColumn::Name,
        "id" | "download uri" | "embed uri" => OrderColumn::Id,
        "mime type" => OrderColumn::ContentType,
        "date created" => OrderColumn::Created,
        "date modified" => OrderColumn::Modified,
        _ => return None,
    })
}

fn filter_json(f: &FileListFilter) -> Value {
    json!({
        "orderByPropertyDeveloperName": f.order_by_property_developer_name,
        "orderByDirectionType": f.order_by_direction_type.as_ref().map(OrderDirection::as_str),
        "limit": f.limit,
        "offset": f.offset,
        "search": f.search,
    })
}

// === $File ===

/// The ten properties of a `$File`, as strings.
#[derive(Debug, Default, Clone)]
pub(crate) struct FileView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) mime_type: String,
    pub(crate) kind: String,
    pub(crate) description: String,
    pub(crate) download_uri: String,
    pub(crate) embed_uri: String,
    pub(crate) icon_uri: String,
    pub(crate) date_created: String,
    pub(crate) date_modified: String,
}

impl FileView {
    /// The view of a stored file; URIs are absolute under `base`.
    pub(crate) fn stored(r: &FileRecord, base: &str) -> Self {
        let download = download_uri(base, &r.service, &r.id);
        FileView {
            id: r.id.clone(),
            name: r.name.clone(),
            mime_type: r.content_type.clone(),
            kind: KIND_FILE.to_owned(),
            description: String::new(),
            embed_uri: format!("{download}?disposition=inline"),
            download_uri: download,
            icon_uri: String::new(),
            date_created: crate::clock::format_millis(r.created, "Z"),
            date_modified: crate::clock::format_millis(r.modified, "Z"),
        }
    }

    /// The view a command or handler answered: `$File` property names (or `externalId`)
    /// to plain values. What it leaves out comes from `d`.
    ///
    /// # Errors
    ///
    /// The answer is not an object.
    pub(crate) fn from_reply(v: &Value, d: FileView) -> Result<Self> {
        let Value::Object(m) = v else {
            return Err(Error::Process(
                "process answered a file that is not an object".into(),
            ));
        };
        let get = |key: &str| m.get(key).and_then(value::plain_to_scalar);
        Ok(FileView {
            id: get("Id").or_else(|| get("externalId")).unwrap_or(d.id),
            name: get("Name").unwrap_or(d.name),
            mime_type: get("Mime Type").unwrap_or(d.mime_type),
            kind: get("Kind").unwrap_or(d.kind),
            description: get("Description").unwrap_or(d.description),
            download_uri: get("Download Uri").unwrap_or(d.download_uri),
            embed_uri: get("Embed Uri").unwrap_or(d.embed_uri),
            icon_uri: get("Icon Uri").unwrap_or(d.icon_uri),
            date_created: get("Date Created").unwrap_or(d.date_created),
            date_modified: get("Date Modified").unwrap_or(d.date_modified),
        })
    }

    /// The `$File` object, properties in alphabetical order as the Java SDK emits them.
    pub(crate) fn into_object(self) -> MObject {
        let prop = |name: &str, ct: ContentType, v: String| Property {
            developer_name: Some(name.to_owned()),
            content_type: Some(ct),
            content_value: Some(v),
            ..Property::default()
        };
        let s = ContentType::String;
        let external_id = self.id.clone();
        MObject {
            external_id: Some(external_id),
            developer_name: Some(FILE_TYPE.to_owned()),
            properties: Some(vec![
                prop("Date Created", ContentType::DateTime, self.date_created),
                prop("Date Modified", ContentType::DateTime, self.date_modified),
                prop("Description", s.clone(), self.description),
                prop("Download Uri", s.clone(), self.download_uri),
                prop("Embed Uri", s.clone(), self.embed_uri),
                prop("Icon Uri", s.clone(), self.icon_uri),
                prop("Id", s.clone(), self.id),
                prop("Kind", s.clone(), self.kind),
                prop("Mime Type", s.clone(), self.mime_type),
                prop("Name", s, self.name),
            ]),
            ..MObject::default()
        }
    }
}
