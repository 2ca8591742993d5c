//! Data actions on their process: the `store` builtin answers from the tables; a
//! `command` or handler reads the plain document and answers plain objects.
//!
//! A process for a data action reads (besides the common fields of [`ProcessCall`])
//! `filter` (load, delete) and `objects` (plain JSON objects, see [`super::value`]), and
//! answers `objects` (and `hasMoreResults` for load). The plain filter is
//! `{id, comparisonType, where: [{columnName, criteriaType, value, values?}],
//! listFilters: [...], search, searchCriteria: [names], orderBy: [{columnName,
//! direction}], offset, limit}`, with values typed by their property.
//!
//! Whatever runs the load, a filter never compares, searches or orders by a Password
//! property (400 naming it) and holds at most `store::MAX_WHERE_ENTRIES` where entries:
//! the store refuses them itself, and [`plain_filter`] before a process sees them.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{value, Process, ProcessCall, Reply};
use crate::definition::{
    DataActionDefinition, PropertyDefinition, ServiceDefinition, TypeDefinition, ValueType,
};
use crate::error::{Error, Result};
use crate::protocol::{
    ContentType, CriteriaType, ListFilter, ListFilterMinimal, ListFilterWhere, MObject,
};
use crate::store::MAX_WHERE_ENTRIES;

/// One data operation, decoded: what its process works on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataWork<'a> {
    /// The service.
    pub(crate) service: &'a str,
    /// Its definition.
    pub(crate) definition: &'a ServiceDefinition,
    /// The data action.
    pub(crate) action: &'a DataActionDefinition,
    /// The type it stores.
    pub(crate) ty: &'a TypeDefinition,
    /// The request's `listFilter`.
    pub(crate) filter: Option<&'a ListFilter>,
    /// The request's `objectData`.
    pub(crate) objects: &'a [MObject],
}

/// What a table load answers.
#[derive(Debug)]
pub(crate) enum Page {
    /// The whole ObjectDataResponse, rendered by the store.
    Rendered(Bytes),
    /// Objects a process answered, and whether more follow.
    Objects(Vec<MObject>, bool),
}

impl Process {
    /// Loads the rows `work` selects. `document` builds the process document of a
    /// `command` or handler (the builtin needs none).
    ///
    /// # Errors
    ///
    /// 400 for a filter that does not fit the type; the process failed.
    pub(crate) async fn load(
        &self,
        work: DataWork<'_>,
        document: impl FnOnce() -> Result<ProcessCall>,
    ) -> Result<Page> {
        if let Process::Store(store) = self {
            let page = store
                .load(work.service, &work.ty.name, work.filter, work.objects)
                .await?;
            return Ok(Page::Rendered(page));
        }
        let mut call = document()?;
        call.extra
            .insert("filter".into(), plain_filter(work.ty, work.filter)?);
        call.extra.insert("objects".into(), plain_objects(&work));
        let reply = self.call(call).await?;
        let more = reply
            .0
            .get("hasMoreResults")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Page::Objects(
            reply_objects(&work, &reply).unwrap_or_default(),
            more,
        ))
    }

    /// Saves the objects of `work`; answers them as saved.
    ///
    /// # Errors
    ///
    /// 400 naming a property whose value does not fit; the process failed.
    pub(crate) async fn save(
        &self,
        work: DataWork<'_>,
        document: impl FnOnce() -> Result<ProcessCall>,
    ) -> Result<Vec<MObject>> {
        if let Process::Store(store) = self {
            return store.save(work.service, &work.ty.name, work.objects).await;
        }
        let mut call = document()?;
        call.extra.insert("objects".into(), plain_objects(&work));
        let reply = self.call(call).await?;
        Ok(reply_objects(&work, &reply).unwrap_or_else(|| work.objects.to_vec()))
    }

    /// Deletes the rows named by the `externalId`s of `work`'s objects and by the
    /// filter's `id` (the engine sets it for single deletes).
    ///
    /// # Errors
    ///
    /// The store or the process failed.
    pub(crate) async fn delete(
        &self,
        work: DataWork<'_>,
        document: impl FnOnce() -> Result<ProcessCall>,
    ) -> Result<()> {
        let filter_id = work
            .filter
            .and_then(|f| f.id.clone())
            .filter(|id| !id.is_empty());
        if let Process::Store(store) = self {
            let mut ids: Vec<String> = work
                .objects
                .iter()
                .filter_map(|o| o.external_id.clone())
                .filter(|id| !id.is_empty())
                .collect();
            ids.extend(filter_id);
            return store.delete(work.service, &work.ty.name, ids).await;
        }
        let mut call = document()?;
        call.extra.insert("objects".into(), plain_objects(&work));
        call.extra
            .insert("filter".into(), json!({ "id": filter_id }));
        self.call(call).await.map(drop)
    }
}

/// `objects` in plain form.
fn plain_objects(work: &DataWork<'_>) -> Value {
    Value::Array(
        work.objects
            .iter()
            .map(|o| value::object_to_plain(o, Some(work.ty), work.definition))
            .collect(),
    )
}

/// The `objects` a process answered, as objects of the type; `None` when it answered
/// none. An object without `externalId` takes its key property's value.
fn reply_objects(work: &DataWork<'_>, reply: &Reply) -> Option<Vec<MObject>> {
    let items = reply.0.get("objects")?;
    let items = match items {
        Value::Array(a) => a.as_slice(),
        Value::Null => &[],
        other => std::slice::from_ref(other),
    };
    Some(
        items
            .iter()
            .map(|v| {
                let mut o =
                    value::plain_to_object(v, Some(&work.ty.name), Some(work.ty), work.definition);
                if o.external_id.as_deref().is_none_or(str::is_empty) {
                    if let Some(key) = work.action.key.as_deref() {
                        o.external_id = v.get(key).and_then(value::plain_to_scalar);
                    }
                }
                o
            })
            .collect(),
    )
}

/// 400 when `p` is a Password: `what` says how the filter would use it.
fn not_secret(ty: &TypeDefinition, p: &PropertyDefinition, what: &str) -> Result<()> {
    if p.value_type == ValueType::Password {
        return Err(Error::bad_request(format!(
            "property '{}' of type '{}' is a Password: it cannot be {what} \
             (Password values are never compared, searched or ordered by)",
            p.name, ty.name
        )));
    }
    Ok(())
}

/// The plain form of a ListFilter for a process (see the module docs).
///
/// # Errors
///
/// 400 for an unknown column, a Password column, filters nested too deep or more where
/// entries than [`MAX_WHERE_ENTRIES`].
pub(crate) fn plain_filter(ty: &TypeDefinition, f: Option<&ListFilter>) -> Result<Value> {
    let Some(f) = f else {
        return Ok(Value::Null);
    };
    let column = |name: Option<&str>, field: &str, what: &str| -> Result<String> {
        let name =
            name.ok_or_else(|| Error::bad_request(format!("a {field} entry has no columnName")))?;
        match ty.properties.iter().find(|p| p.name == name) {
            Some(p) => not_secret(ty, p, what).map(|()| name.to_owned()),
            None => Err(Error::bad_request(format!(
                "{field} columnName '{}' is not a property of type '{}'",
                name.chars().take(255).collect::<String>(),
                ty.name
            ))),
        }
    };
    let mut order = Vec::new();
    match f.order_by.as_deref().filter(|o| !o.is_empty()) {
        Some(list) => {
            for o in list {
                order.push(json!({
                    "columnName": column(o.column_name.as_deref(), "orderBy", "ordered by")?,
                    "direction": direction(o.direction.as_ref()),
                }));
            }
        }
        None => {
            if let Some(n) = f
                .order_by_property_developer_name
                .as_deref()
                .filter(|n| !n.is_empty())
            {
                order.push(json!({
                    "columnName": column(Some(n), "orderByPropertyDeveloperName", "ordered by")?,
                    "direction": direction(f.order_by_direction_type.as_ref()),
                }));
            }
        }
    }
    let search_criteria = f
        .search_criteria
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|c| column(c.column_name.as_deref(), "searchCriteria", "searched").map(Value::String))
        .collect::<Result<Vec<_>>>()?;
    let mut out = plain_group(
        ty,
        f.comparison_type.as_ref(),
        f.where_.as_deref(),
        f.list_filters.as_deref(),
        0,
        &mut 0,
    )?;
    out.insert(
        "id".into(),
        f.id.clone()
            .filter(|s| !s.is_empty())
            .map_or(Value::Null, Value::String),
    );
    out.insert(
        "search".into(),
        f.search
            .clone()
            .filter(|s| !s.is_empty())
            .map_or(Value::Null, Value::String),
    );
    out.insert("searchCriteria".into(), Value::Array(search_criteria));
    out.insert("orderBy".into(), Value::Array(order));
    out.insert("offset".into(), json!(f.offset.unwrap_or(0).max(0)));
    out.insert("limit".into(), json!(f.limit.unwrap_or(0).max(0)));
    Ok(Value::Object(out))
}

fn direction(d: Option<&crate::protocol::OrderDirection>) -> &'static str {
    match d {
        Some(crate::protocol::OrderDirection::Desc) => "DESC",
        _ => "ASC",
    }
}

fn plain_group(
    ty: &TypeDefinition,
    comparison: Option<&crate::protocol::ComparisonType>,
    wheres: Option<&[ListFilterWhere]>,
    nested: Option<&[ListFilterMinimal]>,
    depth: usize,
    seen: &mut usize,
) -> Result<Map<String, Value>> {
    if depth > 32 {
        return Err(Error::bad_request(
            "listFilters are nested deeper than 32 levels",
        ));
    }
    *seen += wheres.map_or(0, <[_]>::len);
    if *seen > MAX_WHERE_ENTRIES {
        return Err(Error::bad_request(format!(
            "the listFilter has more than {MAX_WHERE_ENTRIES} where entries (those of nested \
             listFilters counted); at most {MAX_WHERE_ENTRIES} are accepted"
        )));
    }
    let mut m = Map::new();
    let or = matches!(comparison, Some(crate::protocol::ComparisonType::Or));
    m.insert(
        "comparisonType".into(),
        Value::from(if or { "OR" } else { "AND" }),
    );
    let mut entries = Vec::new();
    for w in wheres.unwrap_or_default() {
        let name = w
            .column_name
            .as_deref()
            .ok_or_else(|| Error::bad_request("a where entry has no columnName"))?;
        let prop = ty
            .properties
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "where columnName '{}' is not a property of type '{}'",
                    name.chars().take(255).collect::<String>(),
                    ty.name
                ))
            })?;
        not_secret(ty, prop, "filtered")?;
        let objects = w.object_data.as_deref().unwrap_or_default();
        if w.operand().is_none() && objects.is_empty() {
            continue;
        }
        let criteria = w.criteria_type.as_ref().ok_or_else(|| {
            Error::bad_request(format!("the where entry for '{name}' has no criteriaType"))
        })?;
        let ct = match criteria {
            CriteriaType::Contains | CriteriaType::StartsWith | CriteriaType::EndsWith => {
                ContentType::String
            }
            CriteriaType::IsEmpty => ContentType::Boolean,
            _ => prop.value_type.content_type(),
        };
        let mut e = Map::new();
        e.insert("columnName".into(), Value::from(name));
        e.insert("criteriaType".into(), Value::from(criteria.as_str()));
        e.insert(
            "value".into(),
            value::scalar_to_plain(w.operand(), Some(&ct)),
        );
        if !objects.is_empty() {
            let values = objects
                .iter()
                .filter_map(|o| {
                    o.property(name)
                        .and_then(|p| p.content_value.as_deref())
                        .or(o.external_id.as_deref())
                })
                .map(|v| value::scalar_to_plain(Some(v), Some(&ct)))
                .collect();
            e.insert("values".into(), Value::Array(values));
        }
        entries.push(Value::Object(e));
    }
    m.insert("where".into(), Value::Array(entries));
    let groups = nested
        .unwrap_or_default()
        .iter()
        .map(|g| {
            plain_group(
                ty,
                g.comparison_type.as_ref(),
                g.where_.as_deref(),
                g.list_filters.as_deref(),
                depth + 1,
                seen,
            )
            .map(Value::Object)
        })
        .collect::<Result<Vec<_>>>()?;
    m.insert("listFilters".into(), Value::Array(groups));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> TypeDefinition {
        serde_json::from_str(
            r#"{"name":"Account","properties":[{"name":"Login"},
                {"name":"Secret","type":"Password","returnOnLoad":true}]}"#,
        )
        .unwrap()
    }

    fn refused(filter: Value) -> String {
        let f: ListFilter = serde_json::from_value(filter).unwrap();
        let e = plain_filter(&account(), Some(&f)).unwrap_err();
        assert_eq!(e.status(), 400);
        e.to_string()
    }

    #[test]
    fn processes_never_get_a_filter_on_a_password() {
        let w = |c: &str| json!({ "columnName": c, "criteriaType": "EQUAL", "contentValue": "x" });
        for filter in [
            json!({ "where": [w("Secret")] }),
            json!({ "listFilters": [{ "where": [w("Login"), w("Secret")] }] }),
            json!({ "search": "x", "searchCriteria": [{ "columnName": "Secret" }] }),
            json!({ "orderBy": [{ "columnName": "Secret" }] }),
            json!({ "orderByPropertyDeveloperName": "Secret" }),
        ] {
            let m = refused(filter.clone());
            assert!(
                m.contains("'Secret'") && m.contains("Password"),
                "{filter}: {m}"
            );
        }
        let many: Vec<Value> = (0..=MAX_WHERE_ENTRIES).map(|_| w("Login")).collect();
        assert!(refused(json!({ "where": many })).contains("100"));
        let f: ListFilter = serde_json::from_value(json!({ "where": [w("Login")] })).unwrap();
        let plain = plain_filter(&account(), Some(&f)).unwrap();
        assert_eq!(plain["where"][0]["columnName"], "Login");
    }
}
