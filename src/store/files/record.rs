//! What the file index keeps of one stored file, and how a listing asks for a page.

/// One stored file as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileRecord {
    /// The file id (`$File` `Id` and `externalId`).
    pub(crate) id: String,
    /// The service.
    pub(crate) service: String,
    /// The canonical resource path (`/file/reports`).
    pub(crate) resource_path: String,
    /// The cleaned name.
    pub(crate) name: String,
    /// The content type.
    pub(crate) content_type: String,
    /// Size in bytes.
    pub(crate) size: i64,
    /// Milliseconds since the epoch.
    pub(crate) created: i64,
    /// Milliseconds since the epoch.
    pub(crate) modified: i64,
    /// Where the bytes are, relative to the data folder.
    pub(crate) rel_path: String,
}

/// The column a listing is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum OrderColumn {
    /// The name (default).
    #[default]
    Name,
    /// The id.
    Id,
    /// The content type.
    ContentType,
    /// Creation time.
    Created,
    /// Modification time.
    Modified,
}

impl OrderColumn {
    /// The index column of this order.
    pub(crate) fn column_name(self) -> &'static str {
        match self {
            OrderColumn::Name => "name",
            OrderColumn::Id => "id",
            OrderColumn::ContentType => "content_type",
            OrderColumn::Created => "created",
            OrderColumn::Modified => "modified",
        }
    }
}

/// Order, page and search of a listing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    /// Order column.
    pub(crate) order: OrderColumn,
    /// Descending when true.
    pub(crate) descending: bool,
    /// Page size.
    pub(crate) limit: u32,
    /// Files skipped.
    pub(crate) offset: u64,
    /// Substring of the name, case-insensitive for ASCII letters.
    pub(crate) search: Option<String>,
}
