//! How an `http` process authenticates: OAuth 2 client credentials from the provider
//! store, a bearer token, HTTP Basic or an API key header, each filled from templates.
//!
//! The OAuth access token comes from the runtime's token cache: one slot per provider,
//! token endpoint and scope, locked (async) while a token is fetched, so concurrent first
//! calls make one token request and the others use its token. A token is reused until
//! its expiry less a margin (`min(60 s, expires_in / 10)`), or, without `expires_in`,
//! until the API refuses it with 401; then the process drops it, fetches one new token
//! and tries once more.
//!
//! No credential or token appears in an error message or a log line: messages name the
//! token endpoint by `scheme://host:port`, and what an endpoint answers is quoted with
//! the secrets of the request replaced by `<redacted>`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use serde_json::Value;

use super::template::{form_body, form_encode, Template, Values};
use super::{origin_of, snippet, transport_error, Secrets, FORM_URLENCODED};
use crate::definition::{ClientAuth, HttpAuthDefinition, OAuthReference};
use crate::error::{Error, Result};
use crate::http::client::OutboundClient;
use crate::oauth::{AccessToken, Credentials, OAuth, TokenKey};

/// The largest answer of a token endpoint read: 64 KiB.
const MAX_TOKEN_ANSWER_BYTES: usize = 64 << 10;
/// The most of a token's lifetime kept as a margin before its expiry.
const MAX_EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The authentication of one `http` process, compiled.
#[derive(Debug)]
pub(super) enum Auth {
    /// None.
    None,
    /// OAuth 2 client credentials.
    ClientCredentials(Box<ClientCredentials>),
    /// `Authorization: Bearer {template}`.
    Bearer(Template),
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: Template,
        /// The password.
        password: Template,
    },
    /// `{header}: {template}`.
    ApiKey {
        /// The header.
        header: HeaderName,
        /// Its name as the definition writes it, for messages.
        name: String,
        /// Its value.
        value: Template,
    },
}

impl Auth {
    /// Compiles `def`.
    ///
    /// # Errors
    ///
    /// A template, header name or token URL that is not valid (validation refuses them
    /// first).
    pub(super) fn new(def: Option<&HttpAuthDefinition>) -> Result<Self, String> {
        let Some(def) = def else {
            return Ok(Auth::None);
        };
        if let Some(o) = &def.oauth {
            return Ok(Auth::ClientCredentials(Box::new(ClientCredentials::new(
                o,
            )?)));
        }
        if let Some(b) = &def.bearer {
            return Ok(Auth::Bearer(Template::parse(b)?));
        }
        if let Some(b) = &def.basic {
            return Ok(Auth::Basic {
                username: Template::parse(&b.username)?,
                password: Template::parse(&b.password)?,
            });
        }
        if let Some(k) = &def.api_key {
            let header = HeaderName::from_bytes(k.header.as_bytes())
                .map_err(|_| format!("'{}' is not a header name", k.header))?;
            return Ok(Auth::ApiKey {
                header,
                name: k.header.clone(),
                value: Template::parse(&k.value)?,
            });
        }
        Err("auth names no way to authenticate".into())
    }

    /// The header a template-based authentication adds (not OAuth: see
    /// [`ClientCredentials::bearer`]); its secret goes into `secrets`.
    ///
    /// # Errors
    ///
    /// 400 when the filled-in value holds a control character.
    pub(super) fn header(
        &self,
        values: &Values<'_>,
        secrets: &mut Secrets,
    ) -> Result<Option<(HeaderName, HeaderValue)>> {
        let (name, value, shown) = match self {
            Auth::None | Auth::ClientCredentials(_) => return Ok(None),
            Auth::Bearer(t) => {
                let token = t.render(values, super::template::Encoding::Plain);
                let value = format!("Bearer {token}");
                secrets.add(token);
                (AUTHORIZATION, value, "Authorization")
            }
            Auth::Basic { username, password } => {
                let user = username.render(values, super::template::Encoding::Plain);
                let pass = password.render(values, super::template::Encoding::Plain);
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                let value = format!("Basic {encoded}");
                secrets.add(pass);
                secrets.add(encoded);
                (AUTHORIZATION, value, "Authorization")
            }
            Auth::ApiKey {
                header,
                name,
                value,
            } => {
                let v = value.render(values, super::template::Encoding::Plain);
                secrets.add(v.clone());
                (header.clone(), v, name.as_str())
            }
        };
        let value = super::header_value(shown, &value)?;
        Ok(Some((name, value)))
    }
}

/// OAuth 2 client credentials (RFC 6749 §4.4) of one provider at one token endpoint.
#[derive(Debug)]
pub(super) struct ClientCredentials {
    /// The cache slot's key.
    key: TokenKey,
    /// The token endpoint.
    token_uri: Uri,
    /// `scheme://host:port` of the token endpoint, for messages.
    origin: String,
    /// The scope asked for, if any.
    scope: Option<String>,
    /// Where the client id and secret go.
    client_auth: ClientAuth,
    /// Extra parameters of the provider sent as form fields.
    token_parameters: Vec<String>,
}

impl ClientCredentials {
    fn new(o: &OAuthReference) -> Result<Self, String> {
        let token_uri: Uri = o
            .token_url
            .parse()
            .map_err(|e| format!("tokenUrl '{}' is not a valid URL: {e}", o.token_url))?;
        let mut scope = o.scope.clone().unwrap_or_default();
        if !o.token_parameters.is_empty() {
            // Tokens asked for with other parameters (another audience) are other
            // tokens: their names join the slot's key.
            scope.push('\0');
            scope.push_str(&o.token_parameters.join("\0"));
        }
        Ok(ClientCredentials {
            key: TokenKey {
                connector: o.connector.clone(),
                provider: o.provider.clone(),
                token_url: o.token_url.clone(),
                scope,
            },
            origin: origin_of(&token_uri),
            token_uri,
            scope: o.scope.clone().filter(|s| !s.is_empty()),
            client_auth: o.client_auth,
            token_parameters: o.token_parameters.clone(),
        })
    }

    /// The provider's credentials.
    ///
    /// # Errors
    ///
    /// 503 when the provider is not loaded; the store could not be read.
    fn credentials(&self, oauth: &OAuth) -> Result<Arc<Credentials>> {
        let (c, p) = (&self.key.connector, &self.key.provider);
        oauth.credentials(c, p)?.ok_or_else(|| {
            Error::Unavailable(
                format!(
                    "OAuth provider {c}/{p} is not loaded; load it with \
                     POST /api/oauth/configurations"
                )
                .into(),
            )
        })
    }

    /// An access token for the API and its `Authorization` header: the cached one while
    /// it is fresh, else a new one.
    /// `refused` is a token the API just answered 401 to: it is dropped unless another
    /// call already replaced it. The token and the provider's secrets go into `secrets`.
    ///
    /// # Errors
    ///
    /// 503 when the provider is not loaded or lacks a token parameter; 502 or 504 when
    /// the token endpoint fails.
    pub(super) async fn bearer(
        &self,
        oauth: &OAuth,
        client: &OutboundClient,
        timeout: Duration,
        refused: Option<&str>,
        secrets: &mut Secrets,
    ) -> Result<(String, HeaderValue)> {
        let creds = self.credentials(oauth)?;
        secrets.add(creds.client_id.clone());
        secrets.add(creds.client_secret.clone());
        let slot = oauth.tokens.slot(&self.key);
        // Held while fetching: concurrent calls wait here for the one token request.
        let mut cached = slot.lock().await;
        let reusable = cached
            .as_ref()
            .filter(|t| t.is_fresh(Instant::now()) && Some(t.value.as_str()) != refused);
        let value = match reusable {
            Some(t) => t.value.clone(),
            None => {
                *cached = None;
                let token = self.fetch(&creds, client, timeout, secrets).await?;
                let value = token.value.clone();
                *cached = Some(token);
                value
            }
        };
        drop(cached);
        secrets.add(value.clone());
        let header = super::header_value("Authorization", &format!("Bearer {value}"))
            .map_err(|_| self.bad_answer("an access_token that is not a valid header value"))?;
        Ok((value, header))
    }

    /// One token request.
    async fn fetch(
        &self,
        creds: &Credentials,
        client: &OutboundClient,
        timeout: Duration,
        secrets: &Secrets,
    ) -> Result<AccessToken> {
        let mut fields: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            fields.push(("scope", scope));
        }
        for name in &self.token_parameters {
            let value = creds.extra.get(name).ok_or_else(|| {
                Error::Unavailable(
                    format!(
                        "OAuth provider {}/{} has no parameter '{name}', which tokenParameters \
                         names; load the provider with it",
                        self.key.connector, self.key.provider
                    )
                    .into(),
                )
            })?;
            fields.push((name, value));
        }
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.token_uri.clone())
            .header(CONTENT_TYPE, FORM_URLENCODED)
            .header(ACCEPT, "application/json");
        match self.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each form-urlencoded, then joined and base64-encoded.
                let mut pair = String::new();
                form_encode(&creds.client_id, &mut pair);
                pair.push(':');
                form_encode(&creds.client_secret, &mut pair);
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                let value = HeaderValue::from_str(&format!("Basic {basic}"))
                    .expect("base64 is a valid header value");
                req = req.header(AUTHORIZATION, value);
            }
            ClientAuth::Form => {
                fields.push(("client_id", &creds.client_id));
                fields.push(("client_secret", &creds.client_secret));
            }
        }
        let body = Bytes::from(form_body(fields));
        let req = req
            .body(Full::new(body))
            .map_err(|e| Error::internal(format!("the token request cannot be built: {e}")))?;
        let resp = client
            .send_within(req, MAX_TOKEN_ANSWER_BYTES, timeout)
            .await
            .map_err(|e| transport_error(&e, &format!("the token endpoint {}", self.origin)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::BadGateway(
                format!(
                    "the token endpoint {} answered {}{}",
                    self.origin,
                    status.as_u16(),
                    snippet(resp.body(), secrets)
                )
                .into(),
            ));
        }
        let answer: Value = serde_json::from_slice(resp.body())
            .map_err(|_| self.bad_answer("an answer that is not JSON"))?;
        let value = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.bad_answer("no access_token"))?;
        let expires_in = answer.get("expires_in").and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        Ok(AccessToken {
            value: value.to_owned(),
            expires_at: expires_in.map(|secs| Instant::now() + usable_for(secs)),
        })
    }

    fn bad_answer(&self, what: &str) -> Error {
        Error::BadGateway(format!("the token endpoint {} answered {what}", self.origin).into())
    }
}

/// How long a token that expires in `secs` seconds is used: its lifetime less
/// `min(60 s, lifetime / 10)`.
fn usable_for(secs: f64) -> Duration {
    let lifetime = Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX / 2);
    lifetime - MAX_EXPIRY_MARGIN.min(lifetime / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_used_until_shortly_before_they_expire() {
        assert_eq!(usable_for(3600.0), Duration::from_secs(3540));
        assert_eq!(usable_for(100.0), Duration::from_secs(90));
        assert_eq!(usable_for(0.0), Duration::ZERO);
        assert_eq!(usable_for(-5.0), Duration::ZERO);
    }
}
