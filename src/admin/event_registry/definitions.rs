//! Event and channel definitions: every deployed version, listed with Flowable's filters
//! (F17, F20), one shown (F18, F19), its resource's bytes and its model as deployed.
//!
//! Both kinds answer the same query: `version` (integer), `name`, `nameLike`,
//! `nameLikeIgnoreCase`, `key`, `keyLike`, `keyLikeIgnoreCase`, `resourceName`,
//! `resourceNameLike`, `category`, `categoryLike`, `categoryNotEquals`, `deploymentId`,
//! `parentDeploymentId` (fss deployments have no parent: it matches nothing), `tenantId`,
//! `tenantIdLike`, `withoutTenantId` and `latest` (Booleans), sorted by `name` (default),
//! `id`, `key`, `category`, `deploymentId`, `tenantId` or `version`. `latest` needs `key`,
//! `keyLike` or `keyLikeIgnoreCase` (D6): the newest version of a key is per tenant, so a
//! `latest` over every key is a query Flowable's own text says it refuses. Channels also
//! take `onlyInbound`, `onlyOutbound` and `implementation` (the channel's `type`: `http`,
//! `rabbit`, `jms`, `kafka`…).
//!
//! The catalog is read once per request (an immutable snapshot): a deploy that lands
//! meanwhile shows in the next request, never half in this one.

use std::cmp::Ordering;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::super::deployments::{self, enc};
use super::super::paging::{cmp_opt, like, Page, Query};
use super::super::Ctx;
use super::REPOSITORY;
use crate::error::{Error, Result};
use crate::event::model::Direction;
use crate::event::{Catalog, ChannelDefinition, DefinitionInfo, EventDefinition};
use crate::http::body::{self, ReqBody, ResBody};

/// The sort properties of both definition queries; `name` is the default.
const SORTS: [&str; 7] = [
    "name",
    "id",
    "key",
    "category",
    "deploymentId",
    "tenantId",
    "version",
];

/// One kind of deployed definition, as the endpoints of this module see it.
pub(super) trait Definition: Sized {
    /// The path segment of its collection (`event-definitions`).
    const SEGMENT: &'static str;
    /// Its name in messages (`event definition`).
    const NOUN: &'static str;
    /// Every deployed version of this kind.
    fn all(catalog: &Catalog) -> &[Arc<Self>];
    fn info(&self) -> &DefinitionInfo;
    /// The model as deployed.
    fn document(&self) -> &Value;
    /// The filters only this kind takes, read from `q`.
    fn narrowing(_q: &Query) -> Result<Narrowing> {
        Ok(Narrowing::default())
    }
    /// Whether this definition passes `n`.
    fn admits(&self, _n: &Narrowing) -> bool {
        true
    }
    /// Adds the fields only this kind shows to its JSON.
    fn extend(&self, _json: &mut Map<String, Value>) {}
}

/// The filters of the channel query that the event query does not have.
#[derive(Debug, Default)]
pub(super) struct Narrowing {
    direction: Option<Direction>,
    implementation: Option<String>,
}

impl Definition for EventDefinition {
    const SEGMENT: &'static str = "event-definitions";
    const NOUN: &'static str = "event definition";

    fn all(catalog: &Catalog) -> &[Arc<Self>] {
        &catalog.events
    }

    fn info(&self) -> &DefinitionInfo {
        &self.info
    }

    fn document(&self) -> &Value {
        &self.model.document
    }
}

impl Definition for ChannelDefinition {
    const SEGMENT: &'static str = "channel-definitions";
    const NOUN: &'static str = "channel definition";

    fn all(catalog: &Catalog) -> &[Arc<Self>] {
        &catalog.channels
    }

    fn info(&self) -> &DefinitionInfo {
        &self.info
    }

    fn document(&self) -> &Value {
        &self.model.document
    }

    fn narrowing(q: &Query) -> Result<Narrowing> {
        let inbound = q.boolean("onlyInbound")?.unwrap_or(false);
        let outbound = q.boolean("onlyOutbound")?.unwrap_or(false);
        let direction = match (inbound, outbound) {
            (true, true) => {
                return Err(Error::bad_request(
                    "Only one of 'onlyInbound' or 'onlyOutbound' can be true",
                ))
            }
            (true, false) => Some(Direction::Inbound),
            (false, true) => Some(Direction::Outbound),
            (false, false) => None,
        };
        Ok(Narrowing {
            direction,
            implementation: q.get("implementation").map(str::to_owned),
        })
    }

    fn admits(&self, n: &Narrowing) -> bool {
        n.direction.is_none_or(|d| self.model.direction == d)
            && n.implementation
                .as_deref()
                .is_none_or(|i| self.model.kind.eq_ignore_ascii_case(i))
    }

    /// `type` and `implementation` as Flowable's channel definition names them (the
    /// direction, `inbound`/`outbound`, and the model's `type`: `http`, `rabbit`, `jms`),
    /// and `channelType`, the ChannelModel's name of the direction.
    fn extend(&self, json: &mut Map<String, Value>) {
        json.insert("type".into(), json!(self.model.direction.as_str()));
        json.insert("channelType".into(), json!(self.model.direction.as_str()));
        json.insert("implementation".into(), json!(self.model.kind));
    }
}

/// `GET event-registry-repository/{event,channel}-definitions`.
pub(super) fn list<T: Definition>(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let catalog = ctx.admin.events.catalog();
    let answer = query(T::all(&catalog), &q, |d| render(&ctx.base_url, d))?;
    Ok(body::json_response(StatusCode::OK, &answer))
}

/// `GET …/{id}`: one definition (F18).
pub(super) fn get<T: Definition>(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let catalog = ctx.admin.events.catalog();
    let d = find::<T>(&catalog, id)?;
    Ok(body::json_response(
        StatusCode::OK,
        &render(&ctx.base_url, &**d),
    ))
}

/// `GET …/{id}/resourcedata`: the bytes of the resource that defines it, exactly as the
/// deployment's `resourcedata` answers them.
pub(super) async fn resource_data<T: Definition>(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let info = find::<T>(&ctx.admin.events.catalog(), id)?.info().clone();
    deployments::resource_data(ctx, &info.deployment_id, &info.resource_name).await
}

/// `GET …/{id}/model`: the EventModel or ChannelModel document as deployed.
pub(super) fn model<T: Definition>(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let catalog = ctx.admin.events.catalog();
    let d = find::<T>(&catalog, id)?;
    Ok(body::json_response(StatusCode::OK, d.document()))
}

fn find<'a, T: Definition>(catalog: &'a Catalog, id: &str) -> Result<&'a Arc<T>> {
    T::all(catalog)
        .iter()
        .find(|d| d.info().id == id)
        .ok_or_else(|| {
            Error::not_found(format!(
                "Could not find {} {} with id '{id}'.",
                article(T::NOUN),
                T::NOUN
            ))
        })
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Filters, sorts and pages `all` as `q` asks; every parameter is checked before any
/// definition is looked at.
fn query<T: Definition>(all: &[Arc<T>], q: &Query, render: impl Fn(&T) -> Value) -> Result<Value> {
    let page = Page::from_query(q, &SORTS, &[], "name")?;
    let version = q.integer("version")?;
    let latest = q.boolean("latest")?.unwrap_or(false);
    if q.get("latest").is_some()
        && ["key", "keyLike", "keyLikeIgnoreCase"]
            .iter()
            .all(|k| q.get(k).is_none())
    {
        return Err(Error::bad_request(
            "Value for param 'latest' can only be used together with 'key' or 'keyLike'",
        ));
    }
    let without_tenant = q.boolean("withoutTenantId")?.unwrap_or(false);
    let narrowing = T::narrowing(q)?;

    let equal = |name: &str, v: Option<&str>| q.get(name).is_none_or(|p| v == Some(p));
    let alike =
        |name: &str, v: Option<&str>| q.get(name).is_none_or(|p| v.is_some_and(|v| like(p, v)));
    let alike_ignoring_case = |name: &str, v: Option<&str>| {
        q.get(name)
            .is_none_or(|p| v.is_some_and(|v| like(&p.to_lowercase(), &v.to_lowercase())))
    };
    let is_newest = |i: &DefinitionInfo| {
        !all.iter().any(|o| {
            let o = o.info();
            o.key == i.key && o.tenant_id == i.tenant_id && o.version > i.version
        })
    };
    let items: Vec<&Arc<T>> = all
        .iter()
        .filter(|d| {
            let i = d.info();
            let key = Some(i.key.as_str());
            let name = i.name.as_deref();
            let resource = Some(i.resource_name.as_str());
            let category = i.category.as_deref();
            let tenant = Some(i.tenant_id.as_str());
            version.is_none_or(|v| i.version == i64::from(v))
                && equal("key", key)
                && alike("keyLike", key)
                && alike_ignoring_case("keyLikeIgnoreCase", key)
                && equal("name", name)
                && alike("nameLike", name)
                && alike_ignoring_case("nameLikeIgnoreCase", name)
                && equal("resourceName", resource)
                && alike("resourceNameLike", resource)
                && equal("category", category)
                && alike("categoryLike", category)
                && q.get("categoryNotEquals")
                    .is_none_or(|p| category != Some(p))
                && equal("deploymentId", Some(i.deployment_id.as_str()))
                && equal("parentDeploymentId", None)
                && equal("tenantId", tenant)
                && alike("tenantIdLike", tenant)
                && (!without_tenant || i.tenant_id.is_empty())
                && (!latest || is_newest(i))
                && d.admits(&narrowing)
        })
        .collect();
    Ok(page.envelope(
        items,
        |a, b, sort| compare(a.info(), b.info(), sort),
        |d| render(d),
    ))
}

/// Orders two definitions by `sort`, then by key, version and id, so that pages are
/// stable.
fn compare(a: &DefinitionInfo, b: &DefinitionInfo, sort: &str) -> Ordering {
    let o = match sort {
        "id" => a.id.cmp(&b.id),
        "key" => a.key.cmp(&b.key),
        "category" => cmp_opt(a.category.as_deref(), b.category.as_deref()),
        "deploymentId" => a.deployment_id.cmp(&b.deployment_id),
        "tenantId" => a.tenant_id.cmp(&b.tenant_id),
        "version" => a.version.cmp(&b.version),
        _ => cmp_opt(a.name.as_deref(), b.name.as_deref()),
    };
    o.then_with(|| a.key.cmp(&b.key))
        .then_with(|| a.version.cmp(&b.version))
        .then_with(|| a.id.cmp(&b.id))
}

/// The definition JSON (F18; channels add their types), its URLs under `base`.
fn render<T: Definition>(base: &str, d: &T) -> Value {
    let i = d.info();
    let deployment = format!("{base}{REPOSITORY}/deployments/{}", enc(&i.deployment_id));
    let mut json = Map::new();
    for (k, v) in [
        ("id", json!(i.id)),
        (
            "url",
            json!(format!("{base}{REPOSITORY}/{}/{}", T::SEGMENT, enc(&i.id))),
        ),
        ("key", json!(i.key)),
        ("version", json!(i.version)),
        ("name", json!(i.name)),
        ("description", json!(i.description)),
        ("category", json!(i.category)),
        ("resourceName", json!(i.resource_name)),
        (
            "resource",
            json!(format!("{deployment}/resources/{}", enc(&i.resource_name))),
        ),
        ("deploymentId", json!(i.deployment_id)),
        ("deploymentUrl", json!(deployment)),
        ("parentDeploymentId", Value::Null),
        ("tenantId", json!(i.tenant_id)),
    ] {
        json.insert(k.into(), v);
    }
    d.extend(&mut json);
    Value::Object(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::model::{parse_channel, parse_event};

    fn info(id: &str, key: &str, version: i64, tenant: &str) -> DefinitionInfo {
        DefinitionInfo {
            id: id.into(),
            key: key.into(),
            version,
            name: Some(format!("{key} v{version}")),
            category: (key != "beta").then(|| "orders".to_owned()),
            description: None,
            deployment_id: format!("dep-{version}"),
            resource_name: format!("events/{key}.event"),
            tenant_id: tenant.into(),
        }
    }

    fn event(id: &str, key: &str, version: i64, tenant: &str) -> Arc<EventDefinition> {
        let doc = json!({"key": key, "payload": [{"name": "orderId", "type": "string"}]});
        let model = parse_event("e.event", doc.to_string().as_bytes()).expect("event parses");
        Arc::new(EventDefinition {
            info: info(id, key, version, tenant),
            model,
        })
    }

    fn channel(id: &str, key: &str, direction: &str, kind: &str) -> Arc<ChannelDefinition> {
        let doc = json!({"key": key, "channelType": direction, "type": kind,
            "destination": "http://127.0.0.1:9/x", "channelEventKeyDetection": {"fixedValue": "e"}});
        let model = parse_channel("c.channel", doc.to_string().as_bytes()).expect("channel parses");
        Arc::new(ChannelDefinition {
            info: info(id, key, 1, ""),
            model,
        })
    }

    fn catalog() -> Catalog {
        Catalog::new(
            vec![
                event("a1", "alpha", 1, ""),
                event("a2", "alpha", 2, ""),
                event("a3", "alpha", 3, "acme"),
                event("b1", "beta", 1, ""),
                event("g1", "gamma", 1, "acme"),
            ],
            vec![
                channel("c1", "hook", "inbound", "http"),
                channel("c2", "toRabbit", "outbound", "rabbit"),
                channel("c3", "legacy", "inbound", "jms"),
            ],
        )
    }

    /// The ids `query` answers for `raw` on the events of the catalog.
    fn events(raw: &str) -> Result<Vec<String>> {
        ids(&catalog().events, raw)
    }

    fn ids<T: Definition>(all: &[Arc<T>], raw: &str) -> Result<Vec<String>> {
        let v = query(all, &Query::parse(Some(raw)), |d| json!(d.info().id))?;
        Ok(v["data"]
            .as_array()
            .expect("data is a list")
            .iter()
            .map(|i| i.as_str().expect("an id").to_owned())
            .collect())
    }

    #[test]
    fn string_filters_match_exactly_or_with_wildcards() {
        assert_eq!(events("key=alpha").unwrap(), ["a1", "a2", "a3"]);
        assert_eq!(events("keyLike=%25mm%25").unwrap(), ["g1"]);
        assert_eq!(
            events("keyLikeIgnoreCase=ALP%25").unwrap(),
            ["a1", "a2", "a3"]
        );
        assert!(events("keyLike=ALP%25").unwrap().is_empty());
        assert_eq!(events("name=beta+v1").unwrap(), ["b1"]);
        assert_eq!(events("nameLikeIgnoreCase=%25V2").unwrap(), ["a2"]);
        assert_eq!(events("resourceNameLike=events/b%25").unwrap(), ["b1"]);
        assert_eq!(events("category=orders&version=1").unwrap(), ["a1", "g1"]);
        assert_eq!(events("categoryNotEquals=orders").unwrap(), ["b1"]);
        assert_eq!(
            events("categoryLike=ord%25&key=beta").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(events("deploymentId=dep-3").unwrap(), ["a3"]);
        assert!(events("parentDeploymentId=dep-1").unwrap().is_empty());
    }

    #[test]
    fn tenants_filter_and_latest_is_per_key_and_tenant() {
        assert_eq!(events("tenantId=acme").unwrap(), ["a3", "g1"]);
        assert_eq!(events("tenantIdLike=ac%25").unwrap(), ["a3", "g1"]);
        assert_eq!(events("withoutTenantId=true").unwrap(), ["a1", "a2", "b1"]);
        assert_eq!(events("withoutTenantId=false").unwrap().len(), 5);
        assert_eq!(events("key=alpha&latest=true").unwrap(), ["a2", "a3"]);
        assert_eq!(
            events("keyLike=%25a&latest=true&tenantId=").unwrap(),
            ["a2", "b1"]
        );
        assert_eq!(events("key=alpha&latest=false").unwrap().len(), 3);
    }

    #[test]
    fn latest_without_a_key_and_bad_values_are_400_naming_the_parameter() {
        let e = events("latest=true").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("'latest'"), "{e}");
        assert!(events("latest=true&name=x").is_err());
        let e = events("key=alpha&latest=yes").unwrap_err().to_string();
        assert!(e.contains("'latest'") && e.contains("'yes'"), "{e}");
        let e = events("version=two").unwrap_err().to_string();
        assert!(e.contains("'version'"), "{e}");
        let e = events("withoutTenantId=1").unwrap_err().to_string();
        assert!(e.contains("'withoutTenantId'"), "{e}");
        let e = events("start=x").unwrap_err().to_string();
        assert!(e.contains("'start'"), "{e}");
        let e = events("sort=deployTime").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "Value for param 'sort' is not valid, 'deployTime' is not a valid property"
            ),
            "{e}"
        );
    }

    #[test]
    fn sorts_default_to_name_and_page() {
        assert_eq!(events("").unwrap(), ["a1", "a2", "a3", "b1", "g1"]);
        assert_eq!(
            events("sort=tenantId&order=desc").unwrap(),
            ["g1", "a3", "b1", "a2", "a1"]
        );
        assert_eq!(
            events("sort=version&order=desc&size=2").unwrap(),
            ["a3", "a2"]
        );
        assert_eq!(events("sort=category").unwrap()[0], "b1");
        assert_eq!(events("sort=ID&start=4").unwrap(), ["g1"]);
        let v = query(
            &catalog().events,
            &Query::parse(Some("sort=key&start=1&size=2")),
            |d| json!(d.info().id),
        )
        .unwrap();
        assert_eq!(
            (
                &v["total"],
                &v["size"],
                &v["start"],
                &v["sort"],
                &v["order"]
            ),
            (
                &json!(5),
                &json!(2),
                &json!(1),
                &json!("key"),
                &json!("asc")
            )
        );
    }

    #[test]
    fn channels_filter_by_direction_and_implementation() {
        let c = catalog();
        assert_eq!(ids(&c.channels, "onlyInbound=true").unwrap(), ["c1", "c3"]);
        assert_eq!(ids(&c.channels, "onlyOutbound=true").unwrap(), ["c2"]);
        assert_eq!(ids(&c.channels, "implementation=RABBIT").unwrap(), ["c2"]);
        assert_eq!(
            ids(&c.channels, "implementation=jms&onlyInbound=true").unwrap(),
            ["c3"]
        );
        let e = ids(&c.channels, "onlyInbound=true&onlyOutbound=true").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("onlyOutbound"), "{e}");
        let e = ids(&c.channels, "onlyInbound=maybe")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'onlyInbound'"), "{e}");
        // Events do not know the channel filters.
        assert_eq!(events("onlyInbound=true").unwrap().len(), 5);
    }

    #[test]
    fn the_json_carries_flowables_fields_and_the_channel_types() {
        let c = catalog();
        let v = render("http://h:1", &**c.event("a3").unwrap());
        assert_eq!(
            v["url"],
            "http://h:1/event-registry-api/event-registry-repository/event-definitions/a3"
        );
        assert_eq!(v["key"], "alpha");
        assert_eq!(v["version"], 3);
        assert_eq!(v["tenantId"], "acme");
        assert_eq!(v["resourceName"], "events/alpha.event");
        assert!(v["parentDeploymentId"].is_null());
        assert_eq!(
            v["resource"],
            "http://h:1/event-registry-api/event-registry-repository/deployments/dep-3/resources/events%2Falpha.event"
        );
        assert!(v.get("type").is_none());
        let v = render("http://h:1", &**c.channel("c2").unwrap());
        assert_eq!(v["type"], "outbound");
        assert_eq!(v["channelType"], "outbound");
        assert_eq!(v["implementation"], "rabbit");
        assert!(v["url"]
            .as_str()
            .unwrap()
            .ends_with("/channel-definitions/c2"));
    }

    #[test]
    fn an_unknown_id_is_404_naming_it() {
        let c = catalog();
        let e = find::<EventDefinition>(&c, "nope").unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(
            e.to_string(),
            "Could not find an event definition with id 'nope'."
        );
        let e = find::<ChannelDefinition>(&c, "a1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Could not find a channel definition with id 'a1'."
        );
    }
}
