//! Property tests of the table store over a real server: a ListFilter's answer is what a
//! straightforward in-memory evaluation of the same filter over the same rows gives (or a
//! 400 exactly when that evaluation refuses the filter), and no ObjectDataRequest, however
//! malformed, gets a 5xx or a dropped connection.
//!
//! `cargo test` runs 64 cases per property; `PROPTEST_CASES=100000 cargo test --release
//! --test prop_filter` is the long run.

mod support;

use std::cmp::Ordering;
use std::sync::OnceLock;

use http::Method;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};
use support::{fixture, request, Answer, TestServer};

// === the server, shared by every case ===

struct Harness {
    rt: tokio::runtime::Runtime,
    server: TestServer,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(TestServer::start(&fixture("prop_filter")));
        Harness { rt, server }
    })
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

async fn send(method: Method, path: &str, body: Vec<u8>) -> Answer {
    let url = harness().server.url(path);
    request(method, &url, &[("content-type", "application/json")], body).await
}

// === rows and their stored values ===

/// A stored value as SQLite holds it, for comparing and ordering like SQLite.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    /// A number, and its text as SQLite renders it (what LIKE sees).
    Num(f64, String),
    Text(String),
}

impl V {
    fn is_null(&self) -> bool {
        matches!(self, V::Null)
    }

    /// What LIKE reads: the text of the value; `None` for NULL.
    fn text(&self) -> Option<&str> {
        match self {
            V::Null => None,
            V::Num(_, t) | V::Text(t) => Some(t),
        }
    }
}

/// SQLite's order of values: NULL, numbers by value, text by bytes.
fn order(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Null, V::Null) => Ordering::Equal,
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        (V::Num(x, _), V::Num(y, _)) => x.partial_cmp(y).unwrap(),
        (V::Num(..), V::Text(_)) => Ordering::Less,
        (V::Text(_), V::Num(..)) => Ordering::Greater,
        (V::Text(x), V::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
    }
}

/// `a IS b`.
fn is(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Null, _) | (_, V::Null) => false,
        _ => order(a, b) == Ordering::Equal,
    }
}

/// The columns of the `Row` type; `P` is its Password, `Nope` is no property.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Col {
    Key,
    S,
    T,
    N,
    B,
    D,
    P,
    Nope,
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Key => "Key",
            Col::S => "S",
            Col::T => "T",
            Col::N => "N",
            Col::B => "B",
            Col::D => "D",
            Col::P => "P",
            Col::Nope => "Nope",
        }
    }

    /// Searched when `searchCriteria` names nothing: the string properties.
    fn is_text(self) -> bool {
        matches!(self, Col::Key | Col::S | Col::T)
    }
}

/// A number of a row: the text sent, its value, how SQLite renders it.
const NUMBERS: &[(&str, f64, &str)] = &[
    ("-1", -1.0, "-1"),
    ("0", 0.0, "0"),
    ("1", 1.0, "1"),
    ("2", 2.0, "2"),
    ("2.5", 2.5, "2.5"),
    ("-0.5", -0.5, "-0.5"),
];

#[derive(Debug, Clone)]
struct Row {
    s: Option<String>,
    t: Option<String>,
    n: Option<usize>,
    b: Option<bool>,
    d: Option<u8>,
    p: Option<String>,
}

impl Row {
    fn value(&self, key: &str, c: Col) -> V {
        match c {
            Col::Key => V::Text(key.to_owned()),
            Col::S => self.s.clone().map_or(V::Null, V::Text),
            Col::T => self.t.clone().map_or(V::Null, V::Text),
            Col::N => self
                .n
                .map_or(V::Null, |i| V::Num(NUMBERS[i].1, NUMBERS[i].2.to_owned())),
            Col::B => self.b.map_or(V::Null, |b| {
                V::Num(f64::from(u8::from(b)), u8::from(b).to_string())
            }),
            Col::D => self.d.map_or(V::Null, |d| V::Text(stored_day(d))),
            Col::P | Col::Nope => unreachable!("never read"),
        }
    }

    fn object(&self, key: &str) -> Value {
        let p = |n: &str, t: &str, v: Option<String>| json!({ "developerName": n, "contentType": t, "contentValue": v });
        json!({ "externalId": null, "developerName": "Row", "properties": [
            p("Key", "ContentString", Some(key.to_owned())),
            p("S", "ContentString", self.s.clone()),
            p("T", "ContentString", self.t.clone()),
            p("N", "ContentNumber", self.n.map(|i| NUMBERS[i].0.to_owned())),
            p("B", "ContentBoolean", self.b.map(|b| b.to_string())),
            p("D", "ContentDateTime", self.d.map(|d| format!("2026-01-0{d}T00:00:00Z"))),
            p("P", "ContentPassword", self.p.clone()),
        ] })
    }
}

fn stored_day(d: u8) -> String {
    format!("2026-01-0{d}T00:00:00.000Z")
}

fn key_of(i: usize) -> String {
    format!("r{i}")
}

/// Short strings over letters that fold, letters that do not (LIKE folds ASCII only),
/// LIKE's wildcards and escape, and quotes.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!['a', 'A', 'b', 'é', 'É', '%', '_', '\\', ' ', '"']),
        0..4,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(0..NUMBERS.len()),
        prop::option::of(any::<bool>()),
        prop::option::of(1u8..5),
        prop::option::of(text()),
    )
        .prop_map(|(s, t, n, b, d, p)| Row { s, t, n, b, d, p })
}

// === filters and their evaluation ===

#[derive(Debug, Clone)]
struct Where {
    col: Col,
    criteria: Option<&'static str>,
    value: Option<String>,
    /// `objectData` values (each object's property of the column's name).
    objects: Vec<Option<String>>,
}

#[derive(Debug, Clone)]
struct Group {
    comparison: Option<&'static str>,
    wheres: Vec<Where>,
    groups: Vec<Group>,
}

#[derive(Debug, Clone)]
struct Filter {
    id: Option<&'static str>,
    top: Group,
    search: Option<String>,
    search_criteria: Vec<Col>,
    order_by: Vec<(Col, Option<&'static str>)>,
    legacy_order: Option<(Col, Option<&'static str>)>,
    limit: Option<i64>,
    offset: Option<i64>,
    provided: Option<Vec<String>>,
}

const CRITERIA: &[&str] = &[
    "EQUAL",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
    "CONTAINS",
    "STARTS_WITH",
    "ENDS_WITH",
    "IS_EMPTY",
    "ANY_EQUAL",
    "ALL_EQUAL",
    "equal",
    "BOGUS",
];

/// A column: mostly a property that can be filtered, rarely the Password or no property.
fn col() -> impl Strategy<Value = Col> {
    prop_oneof![
        60 => prop::sample::select(vec![Col::Key, Col::S, Col::T, Col::N, Col::B, Col::D]),
        1 => Just(Col::P),
        1 => Just(Col::Nope),
    ]
}

fn strs(v: &[&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(v.to_vec()).prop_map(str::to_owned)
}

/// Any where value: text, numbers, booleans, dates, ids, and what fits no column.
fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text(),
        2 => strs(&[
            "-1", "0", "1", "2", "2.5", "-0.5", " 1 ", "1e0", "abc", "",
            "true", "FALSE", " false ", "yes",
            "2026-01-02T00:00:00Z", "2026-01-03", "2026-01-02T01:00:00+01:00", "nope",
            "r1", "r3",
        ]),
        1 => Just("a\u{0}b".to_owned()),
    ]
}

/// A where value for column `c` and `criteria`: mostly one that fits, rarely one that
/// does not.
fn value_for(c: Col, criteria: Option<&'static str>) -> BoxedStrategy<String> {
    let fits: BoxedStrategy<String> = match (c, criteria) {
        (_, Some("IS_EMPTY")) => strs(&["true", "false", " TRUE "]).boxed(),
        (_, Some("CONTAINS" | "STARTS_WITH" | "ENDS_WITH")) => prop_oneof![
            3 => text(),
            1 => strs(&["1", ".5", "-", "2026-01-0", "T00", "r"]),
        ]
        .boxed(),
        (Col::Key, _) => strs(&["r0", "r1", "r3", "r7", "zz"]).boxed(),
        (Col::S | Col::T, _) => prop_oneof![6 => text(), 1 => strs(&["true", "r1"])].boxed(),
        (Col::N, _) => strs(&["-1", "0", "1", "2", "2.5", "-0.5", " 1 ", "1e0", ""]).boxed(),
        (Col::B, _) => strs(&["true", "false", "TRUE", " false ", ""]).boxed(),
        (Col::D, _) => strs(&[
            "2026-01-02T00:00:00Z",
            "2026-01-03",
            "2026-01-02T01:00:00+01:00",
            "",
        ])
        .boxed(),
        (Col::P | Col::Nope, _) => text().boxed(),
    };
    prop_oneof![40 => fits, 1 => operand()].boxed()
}

fn criteria() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        60 => prop::sample::select(CRITERIA[..CRITERIA.len() - 1].to_vec()).prop_map(Some),
        1 => Just(Some("BOGUS")),
        1 => Just(None),
    ]
}

fn where_() -> impl Strategy<Value = Where> {
    (col(), criteria())
        .prop_flat_map(|(col, criteria)| {
            (
                Just(col),
                Just(criteria),
                prop::option::weighted(0.97, value_for(col, criteria)),
                prop::collection::vec(prop::option::weighted(0.8, value_for(col, criteria)), 0..3),
                prop::bool::weighted(0.2),
            )
        })
        .prop_map(|(col, criteria, value, objects, with_objects)| {
            let any_all = matches!(criteria, Some("ANY_EQUAL" | "ALL_EQUAL"));
            Where {
                col,
                criteria,
                value,
                objects: if with_objects && any_all {
                    objects
                } else {
                    Vec::new()
                },
            }
        })
}

fn comparison() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        40 => prop::option::of(prop::sample::select(vec!["AND", "OR", "or", ""])),
        1 => Just(Some("XOR")),
    ]
}

fn group() -> impl Strategy<Value = Group> {
    let leaf = (comparison(), prop::collection::vec(where_(), 0..3)).prop_map(|(c, w)| Group {
        comparison: c,
        wheres: w,
        groups: Vec::new(),
    });
    leaf.prop_recursive(2, 8, 2, |inner| {
        (
            comparison(),
            prop::collection::vec(where_(), 0..3),
            prop::collection::vec(inner, 0..2),
        )
            .prop_map(|(comparison, wheres, groups)| Group {
                comparison,
                wheres,
                groups,
            })
    })
}

fn direction() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        40 => prop::option::of(prop::sample::select(vec!["ASC", "DESC", "desc", ""])),
        1 => Just(Some("UP")),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        prop::option::weighted(0.05, prop::sample::select(vec!["", "r1", "r4", "nope"])),
        group(),
        prop::option::weighted(
            0.4,
            prop_oneof![
                30 => text(),
                3 => Just(" ab ".to_owned()),
                1 => Just("a".repeat(1025)),
                1 => Just("x\u{0}".to_owned()),
            ],
        ),
        prop::collection::vec(col(), 0..3),
        prop::collection::vec((col(), direction()), 0..3),
        prop::option::weighted(0.2, (col(), direction())),
        prop::option::of(prop_oneof![40 => 0i64..5, 1 => Just(-1i64)]),
        prop::option::of(prop_oneof![40 => 0i64..3, 1 => Just(-1i64)]),
        prop::option::weighted(
            0.1,
            prop::collection::vec(prop::sample::select(vec!["r0", "r2", "r3", "zz"]), 0..3)
                .prop_map(|v| v.into_iter().map(str::to_owned).collect()),
        ),
    )
        .prop_map(
            |(
                id,
                top,
                search,
                search_criteria,
                order_by,
                legacy_order,
                limit,
                offset,
                provided,
            )| {
                Filter {
                    id,
                    top,
                    search,
                    search_criteria,
                    order_by,
                    legacy_order,
                    limit,
                    offset,
                    provided,
                }
            },
        )
}

fn where_json(w: &Where) -> Value {
    let mut e = json!({ "columnName": w.col.name(), "criteriaType": w.criteria,
                        "contentValue": w.value });
    if !w.objects.is_empty() {
        e["objectData"] = w
            .objects
            .iter()
            .map(|v| {
                json!({ "externalId": null, "developerName": "Row", "properties": [
                    { "developerName": w.col.name(), "contentValue": v } ] })
            })
            .collect();
    }
    e
}

fn group_json(g: &Group) -> Value {
    json!({
        "comparisonType": g.comparison,
        "where": g.wheres.iter().map(where_json).collect::<Vec<_>>(),
        "listFilters": g.groups.iter().map(group_json).collect::<Vec<_>>(),
    })
}

fn filter_json(f: &Filter) -> Value {
    let mut v = group_json(&f.top);
    v["id"] = json!(f.id);
    v["search"] = json!(f.search);
    v["searchCriteria"] = f
        .search_criteria
        .iter()
        .map(|c| json!({ "columnName": c.name() }))
        .collect();
    v["orderBy"] = f
        .order_by
        .iter()
        .map(|(c, d)| json!({ "columnName": c.name(), "direction": d }))
        .collect();
    if let Some((c, d)) = f.legacy_order {
        v["orderByPropertyDeveloperName"] = json!(c.name());
        v["orderByDirectionType"] = json!(d);
    }
    v["limit"] = json!(f.limit);
    v["offset"] = json!(f.offset);
    v["filterByProvidedObjects"] = json!(f.provided.is_some());
    v
}

/// Why the model refuses a filter (the server must answer 400).
type Refused = &'static str;

/// A where value parsed for column `c`; `Err` when it does not fit.
fn parse(c: Col, s: &str) -> Result<V, Refused> {
    let t = s.trim();
    match c {
        Col::Key | Col::S | Col::T => Ok(V::Text(s.to_owned())),
        Col::N => match t {
            "" => Ok(V::Null),
            "1e0" => Ok(V::Num(1.0, "1.0".into())),
            _ => NUMBERS
                .iter()
                .find(|(w, ..)| *w == t)
                .map(|(_, f, r)| V::Num(*f, (*r).into()))
                .ok_or("not a number"),
        },
        Col::B => match t.to_ascii_lowercase().as_str() {
            "" => Ok(V::Null),
            "true" => Ok(V::Num(1.0, "1".into())),
            "false" => Ok(V::Num(0.0, "0".into())),
            _ => Err("not a boolean"),
        },
        Col::D => match t {
            "" => Ok(V::Null),
            "2026-01-02T00:00:00Z" | "2026-01-02T01:00:00+01:00" => Ok(V::Text(stored_day(2))),
            "2026-01-03" => Ok(V::Text(stored_day(3))),
            _ => Err("not a date-time"),
        },
        Col::P | Col::Nope => unreachable!("refused before"),
    }
}

/// LIKE's ASCII-only case folding.
fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// A compiled predicate over a row's values (by column).
type Pred = Box<dyn Fn(&dyn Fn(Col) -> V) -> bool>;

fn column(c: Col) -> Result<Col, Refused> {
    match c {
        Col::P => Err("a Password is never compared, searched or ordered by"),
        Col::Nope => Err("not a property"),
        c => Ok(c),
    }
}

fn substring_ok(s: &str) -> Result<(), Refused> {
    if s.chars().count() > 1024 {
        return Err("too long");
    }
    if s.contains('\u{0}') {
        return Err("NUL");
    }
    Ok(())
}

fn condition(w: &Where) -> Result<Option<Pred>, Refused> {
    let c = column(w.col)?;
    if w.value.is_none() && w.objects.is_empty() {
        return Ok(None);
    }
    let criteria = w.criteria.ok_or("no criteriaType")?.to_ascii_uppercase();
    let raw = w.value.clone();
    let needs = |raw: Option<String>| raw.ok_or("needs a value");
    let pred: Pred = match criteria.as_str() {
        "EQUAL" | "NOT_EQUAL" => {
            let v = parse(c, &needs(raw)?)?;
            let eq = criteria == "EQUAL";
            Box::new(move |row| is(&row(c), &v) == eq)
        }
        "GREATER_THAN" | "GREATER_THAN_OR_EQUAL" | "LESS_THAN" | "LESS_THAN_OR_EQUAL" => {
            let v = parse(c, &needs(raw)?)?;
            if v.is_null() {
                return Err("needs a value");
            }
            let want: &[Ordering] = match criteria.as_str() {
                "GREATER_THAN" => &[Ordering::Greater],
                "GREATER_THAN_OR_EQUAL" => &[Ordering::Greater, Ordering::Equal],
                "LESS_THAN" => &[Ordering::Less],
                _ => &[Ordering::Less, Ordering::Equal],
            };
            Box::new(move |row| {
                let x = row(c);
                !x.is_null() && want.contains(&order(&x, &v))
            })
        }
        "CONTAINS" | "STARTS_WITH" | "ENDS_WITH" => {
            let raw = needs(raw)?;
            substring_ok(&raw)?;
            let needle = fold(&raw);
            Box::new(move |row| {
                row(c).text().is_some_and(|t| {
                    let t = fold(t);
                    match criteria.as_str() {
                        "CONTAINS" => t.contains(&needle),
                        "STARTS_WITH" => t.starts_with(&needle),
                        _ => t.ends_with(&needle),
                    }
                })
            })
        }
        "IS_EMPTY" => {
            let v = raw.unwrap_or_default();
            let empty = match v.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err("IS_EMPTY takes true or false"),
            };
            Box::new(move |row| {
                let x = row(c);
                let is_empty = x.is_null() || (c.is_text() && x == V::Text(String::new()));
                is_empty == empty
            })
        }
        "ANY_EQUAL" | "ALL_EQUAL" => {
            let values: Vec<String> = if w.objects.is_empty() {
                raw.into_iter().collect()
            } else {
                w.objects.iter().flatten().cloned().collect()
            };
            let any = criteria == "ANY_EQUAL";
            let parsed = values
                .iter()
                .map(|v| parse(c, v))
                .collect::<Result<Vec<_>, _>>()?;
            if any {
                Box::new(move |row| {
                    let x = row(c);
                    !x.is_null() && parsed.iter().any(|v| !v.is_null() && is(&x, v))
                })
            } else {
                Box::new(move |row| parsed.iter().all(|v| is(&row(c), v)))
            }
        }
        _ => return Err("unknown criteriaType"),
    };
    Ok(Some(pred))
}

fn group_pred(g: &Group) -> Result<Option<Pred>, Refused> {
    let or = match g.comparison.map(str::to_ascii_uppercase).as_deref() {
        None | Some("AND" | "") => false,
        Some("OR") => true,
        Some(_) => return Err("unknown comparisonType"),
    };
    let mut parts = Vec::new();
    for w in &g.wheres {
        parts.extend(condition(w)?);
    }
    for n in &g.groups {
        parts.extend(group_pred(n)?);
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(Box::new(move |row| {
        if or {
            parts.iter().any(|p| p(row))
        } else {
            parts.iter().all(|p| p(row))
        }
    })))
}

fn descending(d: Option<&str>) -> Result<bool, Refused> {
    match d.map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC" | "") => Ok(false),
        Some("DESC") => Ok(true),
        Some(_) => Err("unknown direction"),
    }
}

/// What the store must answer for `f` over `rows` (in insertion order): the keys of the
/// page and whether more follow, or a refusal.
fn evaluate(rows: &[Row], f: &Filter) -> Result<(Vec<String>, bool), Refused> {
    let keys: Vec<String> = (0..rows.len()).map(key_of).collect();
    if let Some(id) = f.id.filter(|id| !id.is_empty()) {
        return Ok((keys.into_iter().filter(|k| k == id).collect(), false));
    }
    let mut preds: Vec<Pred> = Vec::new();
    if let Some(ids) = &f.provided {
        let ids = ids.clone();
        preds.push(Box::new(move |row| {
            ids.iter().any(|i| row(Col::Key) == V::Text(i.clone()))
        }));
    }
    preds.extend(group_pred(&f.top)?);
    if let Some(text) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        substring_ok(text)?;
        let named = f
            .search_criteria
            .iter()
            .map(|c| column(*c))
            .collect::<Result<Vec<_>, _>>()?;
        let cols: Vec<Col> = if named.is_empty() {
            vec![Col::Key, Col::S, Col::T]
        } else {
            named
        };
        let needle = fold(text);
        preds.push(Box::new(move |row| {
            cols.iter()
                .any(|c| row(*c).text().is_some_and(|t| fold(t).contains(&needle)))
        }));
    }
    let mut sort = Vec::new();
    if f.order_by.is_empty() {
        if let Some((c, d)) = f.legacy_order {
            sort.push((column(c)?, descending(d)?));
        }
    } else {
        for (c, d) in &f.order_by {
            sort.push((column(*c)?, descending(*d)?));
        }
    }
    let limit = f.limit.unwrap_or(0);
    let offset = f.offset.unwrap_or(0);
    if limit < 0 || offset < 0 {
        return Err("negative limit or offset");
    }
    let mut matching: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            let values = |c: Col| rows[i].value(&keys[i], c);
            preds.iter().all(|p| p(&values))
        })
        .collect();
    matching.sort_by(|&a, &b| {
        for (c, desc) in &sort {
            let o = order(&rows[a].value(&keys[a], *c), &rows[b].value(&keys[b], *c));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.cmp(&b)
    });
    let page = if limit == 0 { 100_000 } else { limit } as usize;
    let offset = offset as usize;
    let more = matching.len() > offset + page;
    let picked = matching
        .into_iter()
        .skip(offset)
        .take(page)
        .map(|i| keys[i].clone())
        .collect();
    Ok((picked, more))
}

/// Replaces every row of the `Row` table with `rows`, in order.
async fn store(rows: &[Row]) {
    let a = send(
        Method::POST,
        "/fs/Prop/data",
        serde_json::to_vec(&json!({ "objectDataType": { "developerName": "Row" } })).unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let old: Vec<Value> = a.json()["objectData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| json!({ "externalId": o["externalId"] }))
        .collect();
    if !old.is_empty() {
        let a = send(
            Method::POST,
            "/fs/Prop/data/delete",
            serde_json::to_vec(
                &json!({ "objectDataType": { "developerName": "Row" }, "objectData": old }),
            )
            .unwrap(),
        )
        .await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    }
    if rows.is_empty() {
        return;
    }
    let objects: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| r.object(&key_of(i)))
        .collect();
    let a = send(
        Method::PUT,
        "/fs/Prop/data",
        serde_json::to_vec(
            &json!({ "objectDataType": { "developerName": "Row" }, "objectData": objects }),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn list_filter_answers_what_an_in_memory_evaluation_gives(
        rows in prop::collection::vec(row(), 0..10),
        f in filter(),
    ) {
        let h = harness();
        let body = {
            let mut b = json!({ "objectDataType": { "developerName": "Row" },
                                "listFilter": filter_json(&f) });
            if let Some(ids) = &f.provided {
                b["objectData"] = ids.iter().map(|i| json!({ "externalId": i })).collect();
            }
            serde_json::to_vec(&b).unwrap()
        };
        let a = h.rt.block_on(async {
            store(&rows).await;
            send(Method::POST, "/fs/Prop/data", body).await
        });
        let answer = String::from_utf8_lossy(&a.body).into_owned();
        match evaluate(&rows, &f) {
            Err(why) => {
                prop_assert_eq!(a.status.as_u16(), 400, "model refuses ({}): {}", why, answer);
            }
            Ok((keys, more)) => {
                prop_assert_eq!(a.status.as_u16(), 200, "{}", answer);
                let v = a.json();
                let got: Vec<String> = v["objectData"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["externalId"].as_str().unwrap().to_owned())
                    .collect();
                prop_assert_eq!(got, keys, "{}", answer);
                prop_assert_eq!(v["hasMoreResults"].as_bool(), Some(more));
                // Passwords are never answered.
                for o in v["objectData"].as_array().unwrap() {
                    let p = o["properties"].as_array().unwrap().iter()
                        .find(|p| p["developerName"] == "P").unwrap();
                    prop_assert_eq!(&p["contentValue"], &Value::Null);
                }
            }
        }
    }
}

// === ObjectDataRequest decoding ===

/// Arbitrary JSON, biased towards the shapes of an ObjectDataRequest.
fn junk_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        operand().prop_map(Value::from),
        prop::sample::select(vec![
            "Junk",
            "Tag",
            "Id",
            "Text",
            "Num",
            "Flag",
            "When",
            "Secret",
            "Child",
            "Kids",
            "Label",
            "EQUAL",
            "CONTAINS",
            "ANY_EQUAL",
            "OR",
            "DESC",
            "ContentList",
            "ContentObject",
            "ContentPassword",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "objectDataType",
                        "developerName",
                        "objectData",
                        "externalId",
                        "properties",
                        "contentValue",
                        "contentType",
                        "listFilter",
                        "where",
                        "columnName",
                        "criteriaType",
                        "listFilters",
                        "comparisonType",
                        "orderBy",
                        "direction",
                        "search",
                        "searchCriteria",
                        "limit",
                        "offset",
                        "id",
                        "filterByProvidedObjects",
                        "orderByPropertyDeveloperName",
                        "configurationValues",
                        "culture",
                        "token",
                        "stateId",
                        "value",
                    ]),
                    inner,
                ),
                0..6,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// A request body: mostly a JSON object naming the `Junk` type, sometimes any JSON, and
/// sometimes bytes that are no JSON at all.
fn body() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        6 => (junk_json(), junk_json()).prop_map(|(mut a, rest)| {
            if !a.is_object() {
                a = json!({});
            }
            a["objectDataType"] = json!({ "developerName": "Junk" });
            if let Value::Object(m) = rest {
                for (k, v) in m {
                    if k != "objectDataType" {
                        a[k] = v;
                    }
                }
            }
            (serde_json::to_vec(&a).unwrap(), true)
        }),
        2 => junk_json().prop_map(|v| (serde_json::to_vec(&v).unwrap(), true)),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| {
            let json = serde_json::from_slice::<Value>(&b).is_ok();
            (b, json)
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn object_data_requests_never_get_a_5xx(
        (bytes, json) in body(),
        which in 0usize..3,
    ) {
        let (method, path) = [
            (Method::POST, "/fs/Prop/data"),
            (Method::PUT, "/fs/Prop/data"),
            (Method::POST, "/fs/Prop/data/delete"),
        ][which].clone();
        let a = harness().rt.block_on(send(method.clone(), path, bytes.clone()));
        let status = a.status.as_u16();
        prop_assert!(
            status == 200 || (400..500).contains(&status),
            "{} {} {} -> {}: {}",
            method,
            path,
            String::from_utf8_lossy(&bytes),
            status,
            String::from_utf8_lossy(&a.body)
        );
        if !json {
            prop_assert_eq!(status, 400, "{}", String::from_utf8_lossy(&a.body));
        }
    }
}
