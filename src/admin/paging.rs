//! The Flowable REST query conventions: typed query parameters, `XXXLike` with the `%`
//! wildcard, and paging with `start`, `size`, `sort`, `order`.
//!
//! - Booleans are exactly `true` or `false`; integers fit in 32 bits. Anything else is a
//!   400 naming the parameter and the value (Flowable answers a non-numeric `start` with
//!   500; fss says what was wrong instead).
//! - `sort` must be one of the endpoint's properties (matched case-insensitively, echoed in
//!   its canonical spelling); `order` is `asc` (default) or `desc`.
//! - `start` defaults to 0 and a negative one counts as 0; `size` defaults to 10 and a
//!   negative one counts as 10.
//! - The answer is `{data, total, start, sort, order, size}` where `size` is the number of
//!   items returned, not the number asked for.

use std::cmp::Ordering;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The default page size.
pub(super) const DEFAULT_SIZE: usize = 10;

/// The decoded query string of a request; the first occurrence of a name wins.
#[derive(Debug, Default)]
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes `raw` (`a=1&b=x%25`) as every query string is read
    /// ([`crate::http::request::query_pairs`]): `+` is a space, `%XX` a byte.
    pub(super) fn parse(raw: Option<&str>) -> Query {
        Query(crate::http::request::query_pairs(raw.unwrap_or_default()).collect())
    }

    /// The string value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A Boolean parameter: exactly `true` or `false`.
    pub(super) fn boolean(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(Error::bad_request(format!(
                "Value for param '{name}' is not valid : '{v}', must be 'true' or 'false'"
            ))),
        }
    }

    /// An Integer parameter (32 bits, signed).
    pub(super) fn integer(&self, name: &str) -> Result<Option<i32>> {
        self.get(name)
            .map(|v| {
                v.parse::<i32>().map_err(|_| {
                    Error::bad_request(format!(
                        "Value for param '{name}' is not valid : '{v}' is not an integer \
                         between -2147483648 and 2147483647"
                    ))
                })
            })
            .transpose()
    }
}

/// The sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// Ascending (the default).
    Asc,
    /// Descending.
    Desc,
}

/// What page of a collection is asked for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    pub(super) start: usize,
    pub(super) size: usize,
    /// The canonical name of the sort property.
    pub(super) sort: &'static str,
    pub(super) order: Order,
}

impl Page {
    /// Reads `start`, `size`, `sort`, `order`; `sorts` are the canonical property names,
    /// `aliases` other accepted spellings with their canonical name.
    pub(super) fn from_query(
        q: &Query,
        sorts: &[&'static str],
        aliases: &[(&str, &'static str)],
        default_sort: &'static str,
    ) -> Result<Page> {
        let sort = match q.get("sort") {
            None => default_sort,
            Some(s) => sorts
                .iter()
                .copied()
                .find(|c| c.eq_ignore_ascii_case(s))
                .or_else(|| {
                    aliases
                        .iter()
                        .find(|(a, _)| a.eq_ignore_ascii_case(s))
                        .map(|(_, c)| *c)
                })
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "Value for param 'sort' is not valid, '{s}' is not a valid property; \
                         valid: {}",
                        sorts.join(", ")
                    ))
                })?,
        };
        let order = match q.get("order") {
            None | Some("asc") => Order::Asc,
            Some("desc") => Order::Desc,
            Some(o) => {
                return Err(Error::bad_request(format!(
                    "Value for param 'order' is not valid : '{o}', must be 'asc' or 'desc'"
                )))
            }
        };
        let start = q
            .integer("start")?
            .map_or(0, |v| usize::try_from(v).unwrap_or(0));
        let size = q
            .integer("size")?
            .map_or(DEFAULT_SIZE, |v| usize::try_from(v).unwrap_or(DEFAULT_SIZE));
        Ok(Page {
            start,
            size,
            sort,
            order,
        })
    }

    /// Sorts `items` with `cmp` (ascending by the page's sort property), then cuts the page
    /// and wraps it in the envelope.
    pub(super) fn envelope<T>(
        &self,
        mut items: Vec<T>,
        cmp: impl Fn(&T, &T, &str) -> Ordering,
        render: impl Fn(&T) -> Value,
    ) -> Value {
        items.sort_by(|a, b| {
            let o = cmp(a, b, self.sort);
            match self.order {
                Order::Asc => o,
                Order::Desc => o.reverse(),
            }
        });
        let total = items.len();
        let data: Vec<Value> = items
            .iter()
            .skip(self.start)
            .take(self.size)
            .map(render)
            .collect();
        envelope_of(data, total, self)
    }
}

fn envelope_of(data: Vec<Value>, total: usize, page: &Page) -> Value {
    json!({
        "size": data.len(),
        "data": data,
        "total": total,
        "start": page.start,
        "sort": page.sort,
        "order": match page.order { Order::Asc => "asc", Order::Desc => "desc" },
    })
}

/// Whether `value` matches `pattern`, where `%` stands for any run of characters
/// (case-sensitive, like the SQL `LIKE` of Flowable's databases).
pub(super) fn like(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &value[first.len()..];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Compares optional strings with `None` first.
pub(super) fn cmp_opt(a: Option<&str>, b: Option<&str>) -> Ordering {
    a.cmp(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_percent_wildcards() {
        assert!(like("Tas%", "Task"));
        assert!(like("%sk", "Task"));
        assert!(like("%a%", "Task"));
        assert!(like("T%k", "Task"));
        assert!(like("%", ""));
        assert!(!like("Tas%", "task"));
        assert!(!like("T%x%k", "Task"));
        assert!(!like("ab%ba", "aba"));
        assert!(like("exact", "exact"));
    }

    #[test]
    fn query_decodes_percent_and_plus() {
        let q = Query::parse(Some("nameLike=Hot%25&x=a+b&x=second&flag"));
        assert_eq!(q.get("nameLike"), Some("Hot%"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.get("flag"), Some(""));
    }

    #[test]
    fn typed_parameters_refuse_bad_values_with_the_reason() {
        let q = Query::parse(Some("b=yes&i=1x&big=3000000000"));
        let e = q.boolean("b").unwrap_err().to_string();
        assert_eq!(
            e,
            "Value for param 'b' is not valid : 'yes', must be 'true' or 'false'"
        );
        assert!(q.integer("i").unwrap_err().to_string().contains("'1x'"));
        assert!(q.integer("big").is_err());
    }

    #[test]
    fn paging_defaults_and_errors() {
        let sorts = &["id", "name", "deployTime"];
        let aliases = &[("deploytime", "deployTime")];
        let p = Page::from_query(&Query::parse(None), sorts, aliases, "id").unwrap();
        assert_eq!(
            (p.start, p.size, p.sort, p.order),
            (0, 10, "id", Order::Asc)
        );
        let q = Query::parse(Some("sort=DEPLOYTIME&order=desc&start=-4&size=-1"));
        let p = Page::from_query(&q, sorts, aliases, "id").unwrap();
        assert_eq!(
            (p.start, p.size, p.sort, p.order),
            (0, 10, "deployTime", Order::Desc)
        );
        let e = Page::from_query(&Query::parse(Some("sort=bogus")), sorts, aliases, "id")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("Value for param 'sort' is not valid, 'bogus' is not a valid property")
        );
        let e = Page::from_query(&Query::parse(Some("order=up")), sorts, aliases, "id")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Value for param 'order' is not valid : 'up', must be 'asc' or 'desc'"
        );
        assert!(Page::from_query(&Query::parse(Some("start=x")), sorts, aliases, "id").is_err());
    }

    #[test]
    fn envelope_counts_what_it_returns() {
        let q = Query::parse(Some("start=2&size=2&order=desc"));
        let p = Page::from_query(&q, &["n"], &[], "n").unwrap();
        let v = p.envelope(vec![1, 2, 3, 4, 5], |a, b, _| a.cmp(b), |x| json!(x));
        assert_eq!(v["data"], json!([3, 2]));
        assert_eq!(v["total"], 5);
        assert_eq!(v["size"], 2);
        assert_eq!(v["start"], 2);
        assert_eq!(v["order"], "desc");
    }
}
