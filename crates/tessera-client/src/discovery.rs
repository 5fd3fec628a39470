//! Authorization-server metadata discovery (RFC 8414), with a fall-back to the conventional token
//! endpoint when the server publishes no metadata.

use oauth2::ClientSecret;
use oauth2::url::Url;
use serde::{Deserialize, Serialize};

use crate::error::ClientError;
use crate::profile::{ClientAuthMethod, ClientSettings};

/// The parts of the RFC 8414 §2 metadata document this client uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// The issuer identifier; must equal the issuer the metadata was fetched for (§3.3).
    pub issuer: String,
    /// The token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// The RFC 7662 introspection endpoint.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// The JWK set of the server's signing keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The authorization endpoint.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Client authentication methods the token endpoint accepts (default `client_secret_basic`).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// The scopes the server supports (`openid profile email` at an OpenID provider).
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// The outcome of [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// The server publishes metadata.
    Found(ServerMetadata),
    /// The server answered 404 (or 405) at every metadata location: it publishes none.
    NotPublished,
}

/// The URLs where metadata for `issuer` may live: the RFC 8414 §3.1 location (the well-known
/// segment inserted before the issuer's path) first, then the segment appended to the issuer.
/// For an issuer without a path they coincide.
pub fn metadata_urls(issuer: &Url) -> Vec<Url> {
    const WELL_KNOWN: &str = ".well-known/oauth-authorization-server";
    let path = issuer.path().trim_end_matches('/');
    let mut inserted = issuer.clone();
    inserted.set_query(None);
    inserted.set_fragment(None);
    inserted.set_path(&format!("/{WELL_KNOWN}{path}"));
    let mut urls = vec![inserted];
    if !path.is_empty() {
        let mut appended = issuer.clone();
        appended.set_query(None);
        appended.set_fragment(None);
        appended.set_path(&format!("{path}/{WELL_KNOWN}"));
        urls.push(appended);
    }
    urls
}

fn parse_issuer(issuer: &str) -> Result<Url, ClientError> {
    let url =
        Url::parse(issuer).map_err(|error| ClientError::Config(format!("issuer {issuer:?} is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::Config(format!("issuer {issuer:?} must be an http or https URL")));
    }
    Ok(url)
}

/// Issuer identifiers are compared as strings (RFC 8414 §3.3), a trailing slash aside: parsing them
/// as URLs would also equate spellings (case, default port) that the RFC tells apart.
fn same_issuer(left: &str, right: &str) -> bool {
    left.trim_end_matches('/') == right.trim_end_matches('/')
}

/// Fetches the metadata of `issuer` (RFC 8414 §3).
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, ClientError> {
    let issuer_url = parse_issuer(issuer)?;
    for url in metadata_urls(&issuer_url) {
        let transport =
            |source: reqwest::Error| ClientError::Transport { url: url.to_string(), source: Box::new(source) };
        let response = http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if matches!(status, reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::METHOD_NOT_ALLOWED) {
            continue;
        }
        if !status.is_success() {
            return Err(ClientError::Protocol {
                url: url.to_string(),
                message: format!("metadata request answered HTTP {status}"),
            });
        }
        let bytes = response.bytes().await.map_err(transport)?;
        let metadata: ServerMetadata = serde_json::from_slice(&bytes).map_err(|error| ClientError::Protocol {
            url: url.to_string(),
            message: format!("metadata is not valid JSON metadata ({error})"),
        })?;
        // RFC 8414 §3.3: metadata for another issuer must not be used (it could redirect the
        // client's credentials to an impostor's token endpoint).
        if !same_issuer(&metadata.issuer, issuer) {
            return Err(ClientError::Protocol {
                url: url.to_string(),
                message: format!("metadata names issuer {:?}, not {issuer:?}", metadata.issuer),
            });
        }
        return Ok(Discovery::Found(metadata));
    }
    Ok(Discovery::NotPublished)
}

impl ClientSettings {
    /// Settings for `issuer`, from its metadata when it publishes some, otherwise from the
    /// conventional `{issuer}/oauth/token` and `{issuer}/oauth/authorize` endpoints (and no
    /// revocation endpoint).
    ///
    /// The client authenticates with HTTP Basic when it has a secret, unless the server lists
    /// only `client_secret_post`; without a secret it is a public client.
    pub async fn discover(
        http: &reqwest::Client,
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: Option<ClientSecret>,
    ) -> Result<Self, ClientError> {
        Ok(Self::discover_with_metadata(http, issuer, client_id, client_secret).await?.0)
    }

    /// [`discover`](Self::discover), also returning the metadata it read (when the server
    /// publishes some), e.g. to see its `scopes_supported`.
    pub async fn discover_with_metadata(
        http: &reqwest::Client,
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: Option<ClientSecret>,
    ) -> Result<(Self, Option<ServerMetadata>), ClientError> {
        let issuer = issuer.trim_end_matches('/');
        match discover(http, issuer).await? {
            Discovery::Found(metadata) => {
                let token_endpoint = metadata.token_endpoint.clone().ok_or_else(|| ClientError::Protocol {
                    url: issuer.to_owned(),
                    message: "metadata has no token_endpoint".to_owned(),
                })?;
                let mut settings = ClientSettings::new(token_endpoint, client_id, client_secret);
                settings.issuer = Some(metadata.issuer.trim_end_matches('/').to_owned());
                settings.revocation_endpoint = metadata.revocation_endpoint.clone();
                settings.authorization_endpoint = metadata.authorization_endpoint.clone();
                settings.jwks_uri = metadata.jwks_uri.clone();
                if settings.client_secret.is_some() {
                    settings.client_auth = preferred_auth(&metadata);
                }
                Ok((settings, Some(metadata)))
            }
            Discovery::NotPublished => {
                let issuer_url = parse_issuer(issuer)?;
                let token_endpoint = conventional_endpoint(&issuer_url, "oauth/token");
                let authorization_endpoint = conventional_endpoint(&issuer_url, "oauth/authorize");
                tracing::debug!(issuer, "no metadata published; using {token_endpoint} and {authorization_endpoint}");
                let mut settings = ClientSettings::new(token_endpoint, client_id, client_secret);
                settings.issuer = Some(issuer.to_owned());
                settings.authorization_endpoint = Some(authorization_endpoint);
                Ok((settings, None))
            }
        }
    }
}

/// The scopes a login asks for on its own initiative at an OpenID provider, so that it gets an
/// id token with the user's name and email (OpenID Connect Core §3.1.2.1, §5.4).
pub const OPENID_LOGIN_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// `requested` with those of [`OPENID_LOGIN_SCOPES`] that the server lists in
/// `scopes_supported` added after it, when it lists `openid`; `None` when nothing would be added
/// (the server is no OpenID provider, or `requested` has them all already).
pub fn with_openid_scopes(requested: Option<&str>, metadata: &ServerMetadata) -> Option<String> {
    let supported = metadata.scopes_supported.as_deref().unwrap_or_default();
    if !supported.iter().any(|scope| scope == "openid") {
        return None;
    }
    let mut scopes: Vec<&str> = requested.unwrap_or_default().split_whitespace().collect();
    let before = scopes.len();
    for scope in OPENID_LOGIN_SCOPES {
        if supported.iter().any(|supported| supported == scope) && !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    (scopes.len() > before).then(|| scopes.join(" "))
}

/// `{issuer}/{path}` for a server without metadata: `path` goes under the issuer's own path.
fn conventional_endpoint(issuer: &Url, path: &str) -> String {
    let mut endpoint = issuer.clone();
    endpoint.set_query(None);
    endpoint.set_fragment(None);
    let under_issuer = format!("{}/{path}", endpoint.path().trim_end_matches('/'));
    endpoint.set_path(&under_issuer);
    endpoint.into()
}

fn preferred_auth(metadata: &ServerMetadata) -> ClientAuthMethod {
    match &metadata.token_endpoint_auth_methods_supported {
        Some(methods)
            if !methods.iter().any(|method| method == "client_secret_basic")
                && methods.iter().any(|method| method == "client_secret_post") =>
        {
            ClientAuthMethod::ClientSecretPost
        }
        _ => ClientAuthMethod::ClientSecretBasic,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        metadata_urls(&Url::parse(issuer).unwrap()).into_iter().map(String::from).collect()
    }

    #[test]
    fn metadata_location_follows_rfc_8414_section_3_1() {
        assert_eq!(urls("http://127.0.0.1:8080"), ["http://127.0.0.1:8080/.well-known/oauth-authorization-server"]);
        assert_eq!(
            urls("https://auth.example.com/"),
            ["https://auth.example.com/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            urls("https://example.com/tenant/1"),
            [
                "https://example.com/.well-known/oauth-authorization-server/tenant/1",
                "https://example.com/tenant/1/.well-known/oauth-authorization-server",
            ]
        );
    }

    #[test]
    fn without_metadata_the_endpoints_go_under_the_issuer() {
        let cases = [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/oauth/token"),
            ("https://auth.example.com/", "https://auth.example.com/oauth/token"),
            ("https://example.com/tenant/1", "https://example.com/tenant/1/oauth/token"),
            ("https://example.com/tenant/1/", "https://example.com/tenant/1/oauth/token"),
        ];
        for (issuer, expected) in cases {
            assert_eq!(conventional_endpoint(&Url::parse(issuer).unwrap(), "oauth/token"), expected, "{issuer}");
        }
    }

    #[test]
    fn openid_scopes_are_added_only_when_the_server_lists_openid() {
        let metadata = |scopes: Option<&[&str]>| ServerMetadata {
            issuer: "http://x".into(),
            token_endpoint: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            jwks_uri: None,
            authorization_endpoint: None,
            token_endpoint_auth_methods_supported: None,
            scopes_supported: scopes.map(|scopes| scopes.iter().map(|s| (*s).to_owned()).collect()),
        };
        let all: &[&str] = &["openid", "profile", "email"];
        // (requested, scopes_supported, scope to ask for)
        type Case<'a> = (Option<&'a str>, Option<&'a [&'a str]>, Option<&'a str>);
        let cases: &[Case] = &[
            (None, Some(all), Some("openid profile email")),
            (Some("read write"), Some(all), Some("read write openid profile email")),
            (Some("openid read"), Some(all), Some("openid read profile email")),
            (Some("email openid profile"), Some(all), None),
            (Some("read"), Some(&["openid", "email", "read"]), Some("read openid email")),
            (Some("read"), Some(&["profile", "email"]), None),
            (Some("read"), None, None),
            (None, Some(&[]), None),
        ];
        for (requested, supported, expected) in cases {
            assert_eq!(with_openid_scopes(*requested, &metadata(*supported)).as_deref(), *expected, "{requested:?}");
        }
    }

    #[test]
    fn basic_is_preferred_unless_only_post_is_listed() {
        let metadata = |methods: Option<&[&str]>| ServerMetadata {
            issuer: "http://x".into(),
            token_endpoint: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            jwks_uri: None,
            authorization_endpoint: None,
            token_endpoint_auth_methods_supported: methods
                .map(|methods| methods.iter().map(|m| (*m).to_owned()).collect()),
            scopes_supported: None,
        };
        assert_eq!(preferred_auth(&metadata(None)), ClientAuthMethod::ClientSecretBasic);
        assert_eq!(
            preferred_auth(&metadata(Some(&["client_secret_post", "client_secret_basic"]))),
            ClientAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            preferred_auth(&metadata(Some(&["client_secret_post", "none"]))),
            ClientAuthMethod::ClientSecretPost
        );
    }
}
