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

impl ListQuery {
    /// The search text, when there is one to filter by (an empty one lists everything).
    pub(crate) fn search_text(&self) -> Option<&str> {
        self.search.as_deref().filter(|s| !s.is_empty())
    }

    /// The `LIMIT` and `OFFSET` of the page's query: one row more than the page, so that
    /// the backend knows whether more follow without counting.
    pub(crate) fn window(&self) -> (i64, i64) {
        let want = i64::from(self.limit) + 1;
        (want, i64::try_from(self.offset).unwrap_or(i64::MAX))
    }

    /// The page of the rows the [`window`](Self::window) query answered, and whether more
    /// follow.
    pub(crate) fn page(&self, mut rows: Vec<FileRecord>) -> (Vec<FileRecord>, bool) {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        (rows, more)
    }
}

/// The LIKE pattern (escape character `\`) of the names that contain `text`: `%`, `_`
/// and `\` in it match only themselves.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a_b%c\\d"), "%a\\_b\\%c\\\\d%");
        assert_eq!(contains_pattern("plain"), "%plain%");
    }
}
