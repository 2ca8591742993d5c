//! Users of the admin API and of services with `"auth": {"basic": true}`: create, list,
//! read, update, delete; privileges; service tokens.
//!
//! A user id has no spaces or special characters (letters, digits, `.`, `_`, `-`, `@`).
//! Passwords are hashed before they are stored and never shown. The last user holding
//! `access-rest-api` can be neither deleted nor stripped of it (409): the admin API would
//! have no user left. `POST /api/identity/users/{id}/token` makes the user a new random
//! token (Boomi's shared web server: user name plus token), shown in that answer only and
//! stored hashed; it works as a second password, and the previous token stops working.

use std::collections::BTreeSet;

use http::{header, HeaderValue, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::deployments::enc;
use super::paging::{cmp_opt, like, Page, Query};
use super::Ctx;
use crate::auth::credentials::{canonical_privilege, is_token, new_token};
use crate::auth::{PRIVILEGES, PRIVILEGE_REST_API};
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};
use crate::store::registry::User;

/// The largest user request body.
const MAX_BODY_BYTES: u64 = 64 << 10;
/// The longest user id.
const MAX_ID_CHARS: usize = 64;
/// The longest password (argon2 input is bounded so that hashing time is too).
const MAX_PASSWORD_BYTES: usize = 1024;

/// The body of `POST /api/identity/users`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewUser {
    id: String,
    password: String,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default)]
    privileges: Vec<String>,
}

/// The body of `PUT /api/identity/users/{id}`: what is given changes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserUpdate {
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    privileges: Option<Vec<String>>,
}

/// Checks a user id: 1 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub(super) fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "user id '{id}' is not valid: use 1 to {MAX_ID_CHARS} letters, digits, '.', '_', \
             '-' or '@'"
        )))
    }
}

/// Checks a password: 1 to 1024 bytes, and not of the shape of a service token (such a
/// password would be checked against the token).
pub(super) fn check_password(p: &str) -> Result<()> {
    if p.is_empty() || p.len() > MAX_PASSWORD_BYTES {
        return Err(Error::bad_request(format!(
            "the password must have 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if is_token(p) {
        return Err(Error::bad_request(
            "the password has the shape of a service token ('fsst_' and 43 characters); \
             choose another one, or make a token with POST /api/identity/users/{id}/token",
        ));
    }
    Ok(())
}

fn privileges(list: &[String]) -> Result<BTreeSet<String>> {
    list.iter()
        .map(|p| {
            canonical_privilege(p).ok_or_else(|| {
                Error::bad_request(format!(
                    "unknown privilege '{p}'; known: {}, flow-service:{{service name}}",
                    PRIVILEGES.join(", ")
                ))
            })
        })
        .collect()
}

/// `GET /api/identity/users`.
pub(super) fn list(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let page = Page::from_query(&q, &["id", "firstName", "lastName"], &[], "id")?;
    let privilege = q
        .get("privilege")
        .map(|p| canonical_privilege(p).unwrap_or_else(|| "\u{0}unknown".to_owned()));
    let users = ctx.users();
    let items: Vec<&User> = users
        .values()
        .filter(|u| q.get("id").is_none_or(|v| u.id == v))
        .filter(|u| q.get("idLike").is_none_or(|v| like(v, &u.id)))
        .filter(|u| privilege.as_ref().is_none_or(|p| u.privileges.contains(p)))
        .collect();
    let answer = page.envelope(
        items,
        |a, b, sort| {
            match sort {
                "firstName" => cmp_opt(a.first_name.as_deref(), b.first_name.as_deref()),
                "lastName" => cmp_opt(a.last_name.as_deref(), b.last_name.as_deref()),
                _ => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.id.cmp(&b.id))
        },
        |u| render(ctx, u),
    );
    Ok(body::json_response(StatusCode::OK, &answer))
}

/// `GET /api/identity/users/{id}`.
pub(super) fn get(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let users = ctx.users();
    let u = users.get(id).ok_or_else(|| no_user(id))?;
    Ok(body::json_response(StatusCode::OK, &render(ctx, u)))
}

/// `POST /api/identity/users`.
pub(super) async fn create(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let new: NewUser = read_json(req).await?;
    check_id(&new.id)?;
    check_password(&new.password)?;
    let privileges = privileges(&new.privileges)?;
    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    if ctx.users().contains_key(&new.id) {
        return Err(Error::conflict(format!(
            "a user with id '{}' already exists",
            new.id
        )));
    }
    let user = User {
        password_hash: admin.directory().hash(new.password).await?,
        token_hash: None,
        id: new.id,
        first_name: new.first_name,
        last_name: new.last_name,
        privileges,
    };
    save(ctx, user.clone()).await?;
    tracing::info!(user = %user.id, "Admin user created.");
    let answer = render(ctx, &user);
    let mut resp = body::json_response(StatusCode::CREATED, &answer);
    if let Some(Ok(v)) = answer["url"].as_str().map(HeaderValue::from_str) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `PUT /api/identity/users/{id}`.
pub(super) async fn update(
    ctx: &Ctx,
    id: &str,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let change: UserUpdate = read_json(req).await?;
    if let Some(p) = &change.password {
        check_password(p)?;
    }
    let new_privileges = change.privileges.as_deref().map(privileges).transpose()?;
    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    let admins = admin.directory().admins();
    let mut user = ctx.users().get(id).ok_or_else(|| no_user(id))?.clone();
    if let Some(p) = new_privileges {
        if user.privileges.contains(PRIVILEGE_REST_API)
            && !p.contains(PRIVILEGE_REST_API)
            && admins == 1
        {
            return Err(last_admin(id));
        }
        user.privileges = p;
    }
    if let Some(p) = change.password {
        user.password_hash = admin.directory().hash(p).await?;
    }
    if change.first_name.is_some() {
        user.first_name = change.first_name;
    }
    if change.last_name.is_some() {
        user.last_name = change.last_name;
    }
    save(ctx, user.clone()).await?;
    Ok(body::json_response(StatusCode::OK, &render(ctx, &user)))
}

/// `DELETE /api/identity/users/{id}`.
pub(super) async fn delete(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    let directory = admin.directory();
    let is_admin = directory
        .users()
        .get(id)
        .ok_or_else(|| no_user(id))?
        .privileges
        .contains(PRIVILEGE_REST_API);
    if is_admin && directory.admins() == 1 {
        return Err(last_admin(id));
    }
    directory.remove(id).await?;
    tracing::info!(user = %id, "Admin user deleted.");
    let mut resp = Response::new(body::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// `POST /api/identity/users/{id}/token`: a new service token for the user, shown once.
/// The previous token stops working; the password keeps working.
pub(super) async fn new_user_token(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    let mut user = ctx.users().get(id).ok_or_else(|| no_user(id))?.clone();
    let token = new_token();
    user.token_hash = Some(admin.directory().hash(token.clone()).await?);
    save(ctx, user).await?;
    tracing::info!(user = %id, "Service token generated.");
    let mut resp = body::json_response(StatusCode::CREATED, &json!({"id": id, "token": token}));
    // The token is shown once: no cache may keep it.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `DELETE /api/identity/users/{id}/token`: the user's token stops working (204).
pub(super) async fn delete_user_token(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    let mut user = ctx.users().get(id).ok_or_else(|| no_user(id))?.clone();
    if user.token_hash.take().is_none() {
        return Err(Error::not_found(format!("user '{id}' has no token")));
    }
    save(ctx, user).await?;
    tracing::info!(user = %id, "Service token revoked.");
    let mut resp = Response::new(body::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// Writes `user` through to the registry, then to memory; forgets verified credentials.
async fn save(ctx: &Ctx, user: User) -> Result<()> {
    ctx.admin.directory().save(user).await
}

/// Reads a bounded JSON body. Malformed JSON is 400; an unknown property or a wrongly
/// typed value is 415 (Flowable's convention); a missing property is 400.
async fn read_json<T: DeserializeOwned>(req: Request<ReqBody>) -> Result<T> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(Error::UnsupportedMediaType(
                format!("Content-Type '{ct}' is not supported; send application/json").into(),
            ));
        }
    }
    let len = body::content_length(req.headers());
    let bytes = body::read_limited(req.into_body(), len, MAX_BODY_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let msg = format!("request body does not fit: {e}");
        match e.classify() {
            serde_json::error::Category::Data if !e.to_string().starts_with("missing field") => {
                Error::UnsupportedMediaType(msg.into())
            }
            _ => Error::bad_request(msg),
        }
    })
}

fn no_user(id: &str) -> Error {
    Error::not_found(format!("Could not find a user with id '{id}'."))
}

fn last_admin(id: &str) -> Error {
    Error::conflict(format!(
        "user '{id}' is the last one holding '{PRIVILEGE_REST_API}'; the admin API would \
         have no user left"
    ))
}

/// The user JSON; never the password or its hash.
fn render(ctx: &Ctx, u: &User) -> Value {
    json!({
        "id": u.id,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "privileges": u.privileges,
        "url": format!("{}/api/identity/users/{}", ctx.base_url, enc(&u.id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_have_no_spaces_or_specials() {
        assert!(check_id("bars-admin").is_ok());
        assert!(check_id("a.b_c@acme").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("a b").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn passwords_of_token_shape_are_refused() {
        assert!(check_password("ops-secret").is_ok());
        assert!(check_password("").is_err());
        let err = check_password(&new_token()).unwrap_err().to_string();
        assert!(err.contains("service token"), "{err}");
    }
}
