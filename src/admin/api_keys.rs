//! The API keys of a user through the admin API: issue (shown once), list, revoke.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | POST | `/api/identity/users/{id}/api-keys` | body `{"name", "expiresInDays"}`, both optional: 201 `{"id", "name", "key", "createdAt", "expiresAt"}`, `Cache-Control: no-store` |
//! | GET | `/api/identity/users/{id}/api-keys` | `{"data": [{"id", "name", "createdAt", "expiresAt", "revoked", "revokedAt"}], "total"}`: never the key |
//! | DELETE | `/api/identity/users/{id}/api-keys/{keyId}` | revoked: it stops working at once (204); 404 when the user has no such key |
//!
//! An unknown user is 404. A key may be issued to a user lacking `use-api-key` or
//! `run-actions`: privileges are checked when the key is used, on every call. The key
//! (`key`) is in the 201 answer only; fss keeps its record, never the token, so a lost key
//! is revoked and a new one issued. How keys are signed and verified is in `auth::api_key`.

use http::{header, HeaderValue, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{iso8601, Ctx};
use crate::auth::api_key::{DEFAULT_EXPIRES_IN_DAYS, DEFAULT_KEY_NAME, MAX_EXPIRES_IN_DAYS};
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};
use crate::store::registry::ApiKey;

/// The largest body of a POST.
const MAX_BODY_BYTES: u64 = 4 << 10;
/// The longest key name, in characters.
const MAX_NAME_CHARS: usize = 128;

/// The body of `POST /api/identity/users/{id}/api-keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewKey {
    name: Option<String>,
    expires_in_days: Option<i64>,
}

/// `POST /api/identity/users/{id}/api-keys`.
pub(super) async fn create(
    ctx: &Ctx,
    user_id: &str,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let new = read_new_key(req).await?;
    let name = match new.name {
        None => DEFAULT_KEY_NAME.to_owned(),
        Some(n) => check_name(n)?,
    };
    let days = match new.expires_in_days {
        None => DEFAULT_EXPIRES_IN_DAYS,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| (1..=MAX_EXPIRES_IN_DAYS).contains(d))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "expiresInDays must be a whole number of days from 1 to \
                     {MAX_EXPIRES_IN_DAYS}; it is {d}"
                ))
            })?,
    };
    let admin = &ctx.admin;
    // Serialized with user changes: a key is never issued to a user being deleted.
    let _changes = admin.changes.lock().await;
    let issued = admin.directory().issue_api_key(user_id, name, days).await?;
    tracing::info!(user = %user_id, key = %issued.record.id, "API key issued.");
    let mut answer = render(&issued.record);
    answer["key"] = Value::String(issued.token);
    let mut resp = body::json_response(StatusCode::CREATED, &answer);
    // The key is shown once: no cache may keep it.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /api/identity/users/{id}/api-keys`.
pub(super) fn list(ctx: &Ctx, user_id: &str) -> Result<Response<ResBody>> {
    if !ctx.users().contains_key(user_id) {
        return Err(no_user(user_id));
    }
    let keys = ctx.admin.directory().api_keys_of(user_id);
    let data: Vec<Value> = keys.iter().map(render).collect();
    Ok(body::json_response(
        StatusCode::OK,
        &json!({ "data": data, "total": keys.len() }),
    ))
}

/// `DELETE /api/identity/users/{id}/api-keys/{keyId}`.
pub(super) async fn revoke(ctx: &Ctx, user_id: &str, key_id: &str) -> Result<Response<ResBody>> {
    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    if !ctx.users().contains_key(user_id) {
        return Err(no_user(user_id));
    }
    if !admin.directory().revoke_api_key(user_id, key_id).await? {
        return Err(Error::not_found(format!(
            "user '{user_id}' has no API key with id '{key_id}'"
        )));
    }
    tracing::info!(user = %user_id, key = %key_id, "API key revoked.");
    let mut resp = Response::new(body::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// The body of a POST: none (or only whitespace) asks for the defaults.
async fn read_new_key(req: Request<ReqBody>) -> Result<NewKey> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(Error::UnsupportedMediaType(
                format!(
                    "Content-Type '{ct}' is not supported; send application/json: \
                     {{\"name\": \"…\", \"expiresInDays\": 90}}"
                )
                .into(),
            ));
        }
    }
    let len = body::content_length(req.headers());
    let bytes = body::read_limited(req.into_body(), len, MAX_BODY_BYTES).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(NewKey::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::bad_request(format!(
            "the body must be {{\"name\": \"…\", \"expiresInDays\": N}}, both optional: {e}"
        ))
    })
}

/// Checks a key name: 1 to 128 characters, no control characters.
fn check_name(name: String) -> Result<String> {
    let n = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&n) && !name.chars().any(char::is_control) {
        Ok(name)
    } else {
        Err(Error::bad_request(format!(
            "name must have 1 to {MAX_NAME_CHARS} characters and no control characters"
        )))
    }
}

fn no_user(id: &str) -> Error {
    Error::not_found(format!("Could not find a user with id '{id}'."))
}

/// The record's JSON; never the key.
fn render(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "userId": k.user_id,
        "name": k.name,
        "createdAt": iso8601(k.created_ms),
        "expiresAt": iso8601(k.expires_ms),
        "revoked": k.revoked_ms.is_some(),
        "revokedAt": k.revoked_ms.map(iso8601),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_bounded_and_printable() {
        assert_eq!(check_name("ci robot".into()).unwrap(), "ci robot");
        assert!(check_name(String::new()).is_err());
        assert!(check_name("a\nb".into()).is_err());
        assert!(check_name("é".repeat(128)).is_ok());
        assert!(check_name("x".repeat(129)).is_err());
    }

    #[test]
    fn records_render_without_a_token() {
        let k = ApiKey {
            id: "k".into(),
            user_id: "u".into(),
            name: "default".into(),
            created_ms: 0,
            expires_ms: 86_400_000,
            revoked_ms: None,
        };
        let v = render(&k);
        assert_eq!(v["createdAt"], "1970-01-01T00:00:00.000+00:00");
        assert_eq!(v["expiresAt"], "1970-01-02T00:00:00.000+00:00");
        assert_eq!(v["revoked"], false);
        assert!(v.get("key").is_none());
    }
}
