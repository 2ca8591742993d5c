//! The keystore's aliases through the admin API: write-only named secrets.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/api/keystore` | `{"data": [{"alias": "…"}], "total": N}`: names only, never values |
//! | PUT | `/api/keystore/{alias}` | body `{"value": "…"}`: stores it, replacing any value (204) |
//! | DELETE | `/api/keystore/{alias}` | 204; 404 when there is no such alias |
//!
//! Alias names are 1 to 128 of letters, digits, `.`, `_`, `-`; values 1 to 8192 bytes.
//! The value of `phixflow-api-key`, the HMAC key that signs API keys, must have at least
//! 32 bytes (P11); replacing it invalidates every API key issued so far, which is how they
//! are all withdrawn at once. A refused value is never quoted back. The built-in aliases `oauth-admin-key` and
//! `exchange-admin-key` can be neither replaced nor deleted (409): stored secrets depend
//! on them. A value, once stored, is never answered again: what needs it reads it inside
//! fss. Writes go through the runtime's one keystore handle, which serializes them and
//! writes the file atomically before the answer.

use std::sync::Arc;

use http::{header, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::Ctx;
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};
use crate::store::keystore::{
    KeystoreFile, MAX_VALUE_BYTES, MIN_API_KEY_SIGNING_BYTES, PHIXFLOW_API_KEY,
};

/// The largest body of a PUT: a value of 8192 bytes, every byte escaped (`\u00XX`), and
/// the object around it.
const MAX_BODY_BYTES: u64 = (MAX_VALUE_BYTES as u64) * 6 + 1024;

/// `GET /api/keystore`.
pub(super) async fn list(ctx: &Ctx) -> Result<Response<ResBody>> {
    let aliases = blocking(ctx, |k| k.aliases()).await?;
    let data: Vec<Value> = aliases.iter().map(|a| json!({ "alias": a })).collect();
    Ok(body::json_response(
        StatusCode::OK,
        &json!({ "data": data, "total": aliases.len() }),
    ))
}

/// `PUT /api/keystore/{alias}`.
pub(super) async fn put(
    ctx: &Ctx,
    alias: &str,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let value = read_value(req).await?;
    if alias == PHIXFLOW_API_KEY && value.len() < MIN_API_KEY_SIGNING_BYTES {
        return Err(Error::bad_request(format!(
            "the alias {PHIXFLOW_API_KEY} signs the API keys: its value must have at least              {MIN_API_KEY_SIGNING_BYTES} bytes; this one has {}",
            value.len()
        )));
    }
    let name = alias.to_owned();
    blocking(ctx, move |k| k.put(&name, value.as_bytes())).await?;
    if alias == PHIXFLOW_API_KEY {
        tracing::warn!(alias = %alias, "API key signing key replaced: every API key issued before no longer verifies.");
    } else {
        tracing::info!(alias = %alias, "Keystore alias stored.");
    }
    Ok(no_content())
}

/// `DELETE /api/keystore/{alias}`.
pub(super) async fn delete(ctx: &Ctx, alias: &str) -> Result<Response<ResBody>> {
    let name = alias.to_owned();
    if !blocking(ctx, move |k| k.delete(&name)).await? {
        return Err(Error::not_found(format!(
            "the keystore has no alias '{alias}'"
        )));
    }
    if alias == PHIXFLOW_API_KEY {
        tracing::warn!(alias = %alias, "API key signing key deleted: every API key issued before no longer verifies; a new signing key is made when one is next needed.");
    } else {
        tracing::info!(alias = %alias, "Keystore alias deleted.");
    }
    Ok(no_content())
}

/// Runs `f` on the keystore off the async workers (file reads, fsync).
async fn blocking<T: Send + 'static>(
    ctx: &Ctx,
    f: impl FnOnce(&KeystoreFile) -> Result<T> + Send + 'static,
) -> Result<T> {
    let keystore = Arc::clone(&ctx.admin.keystore);
    tokio::task::spawn_blocking(move || f(&keystore))
        .await
        .map_err(Error::internal)?
}

/// The `value` of a PUT body. Every message says what is wrong with the body's shape and
/// none quotes what was sent: a misplaced secret must not come back in an answer.
async fn read_value(req: Request<ReqBody>) -> Result<String> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(Error::UnsupportedMediaType(
                "send the value as application/json: {\"value\": \"…\"}".into(),
            ));
        }
    }
    let len = body::content_length(req.headers());
    let bytes = body::read_limited(req.into_body(), len, MAX_BODY_BYTES).await?;
    let shape = || {
        Error::bad_request(
            "the body must be a JSON object with one member, \"value\", a string of 1 to \
             8192 bytes",
        )
    };
    // Parsed as a JSON value, not into a typed struct: serde's type errors quote the
    // value they refuse. Syntax errors name a line and column only.
    let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::bad_request(format!(
            "the body is not JSON (line {}, column {}); send {{\"value\": \"…\"}}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut obj) = parsed else {
        return Err(shape());
    };
    if obj.len() != 1 {
        return Err(shape());
    }
    match obj.remove("value") {
        Some(Value::String(v)) => Ok(v),
        _ => Err(shape()),
    }
}

fn no_content() -> Response<ResBody> {
    let mut resp = Response::new(body::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}
