//! The authorization endpoint's rules (RFC 6749 §4.1, RFC 7636 §4.3, RFC 8252 §7.3): which
//! requests are refused outright, which are answered by redirecting an error to the client,
//! and how a presented redirect URI is matched against the registered ones. Redeeming the
//! code later, at the token endpoint, is [`crate::code`]'s business.

use crate::code::valid_pkce_text;
use crate::dpop::Thumbprint;
use crate::oidc::OpenIdParameters;
use crate::scope::Scope;
use std::collections::HashMap;
use tessera_proto::{ClientId, ErrorCode};

/// What the authorization endpoint needs to know about the client a request names.
#[derive(Debug, Clone)]
pub struct ClientView<'a> {
    pub client_id: &'a ClientId,
    pub redirect_uris: &'a [String],
    pub allows_authorization_code: bool,
    pub is_public: bool,
    pub scope: &'a Scope,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    /// Where the code goes: the URI the request named, or the client's only registered one.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri`; then the token request must repeat it
    /// (RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to; the token request
    /// that redeems the code must come with a proof by that key.
    pub dpop_jkt: Option<Thumbprint>,
    /// OpenID Connect's parameters (`nonce`, `prompt`, `max_age`, `login_hint`).
    pub openid: OpenIdParameters,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// RFC 6749 §4.1.2.1: the client or redirect URI cannot be trusted, so the user is told
    /// and nothing is sent anywhere.
    Fatal(String),
    /// Sent back to the (verified) redirect URI as `error=…&state=…`.
    Redirect { redirect_uri: String, state: Option<String>, code: ErrorCode, description: String },
}

/// RFC 8252 §7.3: a loopback IP redirect URI matches whatever port the native client
/// listens on; every other URI must match exactly (RFC 6749 §3.1.2.3, no partial matching).
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_without_port(registered), loopback_without_port(presented)) {
        (Some(registered), Some(presented)) => registered == presented,
        _ => false,
    }
}

/// `http://127.0.0.1:1234/cb` → `http://127.0.0.1/cb`; `None` for non-loopback URIs.
///
/// The URI is parsed with `url`, but only a URI already spelled the way `url` writes it counts:
/// the parser would otherwise make spellings equal (dot segments, escapes, case) that RFC 6749
/// §3.1.2.3's simple string comparison tells apart. Two spellings `url` changes are kept:
/// no path at all (`http://127.0.0.1:5000`) and the default port written out (`:80`).
fn loopback_without_port(uri: &str) -> Option<String> {
    let mut parsed = url::Url::parse(uri).ok()?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    };
    if parsed.scheme() != "http" || !loopback || !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    let no_path =
        parsed.path() == "/" && parsed.query().is_none() && parsed.fragment().is_none() && !uri.ends_with('/');
    let spelled = |url: &url::Url| {
        let text = url.as_str();
        if no_path { text.trim_end_matches('/').to_owned() } else { text.to_owned() }
    };
    let normal = spelled(&parsed);
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let default_port_written = parsed.port().is_none() && normal.replacen(&host, &format!("{host}:80"), 1) == uri;
    if normal != uri && !default_port_written {
        return None;
    }
    parsed.set_port(None).ok()?;
    Some(spelled(&parsed))
}

impl AuthorizationRequest {
    /// Checks an authorization request's parameters against the client it names (`None`:
    /// no such client). Parameters are already de-duplicated.
    pub fn parse(params: &HashMap<String, String>, client: Option<&ClientView<'_>>) -> Result<Self, AuthorizeError> {
        let Some(client) = client else {
            return Err(AuthorizeError::Fatal(match params.get("client_id") {
                Some(_) => "The application that sent you here is not registered with this server.".into(),
                None => "The request does not say which application is asking (client_id is missing).".into(),
            }));
        };
        // First the redirect URI: until it is verified, no error may be sent to it.
        let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
            Some(presented) => {
                if !client.redirect_uris.iter().any(|registered| redirect_uri_matches(registered, presented)) {
                    return Err(AuthorizeError::Fatal(
                        "The redirect URI of this request is not registered for the application.".into(),
                    ));
                }
                (presented.clone(), true)
            }
            None => match client.redirect_uris {
                [only] => (only.clone(), false),
                _ => {
                    return Err(AuthorizeError::Fatal(
                        "The request has no redirect_uri and the application has not registered exactly one.".into(),
                    ));
                }
            },
        };
        let state = params.get("state").cloned();
        let redirect = |code: ErrorCode, description: &str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            code,
            description: description.into(),
        };
        match params.get("response_type").map(String::as_str) {
            Some("code") => {}
            None => return Err(redirect(ErrorCode::InvalidRequest, "response_type is missing")),
            Some(_) => {
                return Err(redirect(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
            }
        }
        // OpenID Connect Core §3.1.2.6: its errors too go to the verified redirect URI.
        let openid = OpenIdParameters::parse(params).map_err(|(code, description)| redirect(code, description))?;
        if !client.allows_authorization_code {
            return Err(redirect(
                ErrorCode::UnauthorizedClient,
                "this client may not use the authorization_code grant",
            ));
        }
        let requested = params.get("scope").map(|text| Scope::parse(text));
        let scope = match requested {
            Some(Err(_)) => None,
            Some(Ok(requested)) => Scope::grant(Some(&requested), client.scope),
            None => Scope::grant(None, client.scope),
        };
        let Some(scope) = scope else {
            return Err(redirect(ErrorCode::InvalidScope, "the requested scope is not allowed for this client"));
        };
        let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
            (None, None) if client.is_public => {
                return Err(redirect(ErrorCode::InvalidRequest, "public clients must use PKCE (code_challenge)"));
            }
            (None, None) => None,
            (Some(challenge), Some(method)) if method == "S256" => {
                if !valid_pkce_text(challenge) {
                    return Err(redirect(ErrorCode::InvalidRequest, "code_challenge is malformed"));
                }
                Some(challenge.clone())
            }
            (Some(_), None) | (Some(_), Some(_)) => {
                return Err(redirect(ErrorCode::InvalidRequest, "code_challenge_method must be S256"));
            }
            (None, Some(_)) => return Err(redirect(ErrorCode::InvalidRequest, "code_challenge is missing")),
        };
        let dpop_jkt = match params.get("dpop_jkt") {
            None => None,
            Some(text) => Some(Thumbprint::parse(text).ok_or_else(|| {
                redirect(
                    ErrorCode::InvalidRequest,
                    "dpop_jkt is not a JWK SHA-256 thumbprint (43 characters of base64url)",
                )
            })?),
        };
        Ok(AuthorizationRequest {
            client_id: client.client_id.clone(),
            redirect_uri,
            redirect_uri_given,
            scope,
            state,
            code_challenge,
            dpop_jkt,
            openid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_matching_table() {
        let cases = [
            ("https://app.example/cb", "https://app.example/cb", true),
            ("https://app.example/cb", "https://app.example/cb/", false),
            ("https://app.example/cb", "https://app.example/cb?x=1", false),
            ("https://app.example/cb", "https://app.example:8443/cb", false),
            ("http://127.0.0.1/callback", "http://127.0.0.1:53817/callback", true),
            ("http://127.0.0.1:1/callback", "http://127.0.0.1:2/callback", true),
            ("http://127.0.0.1/callback", "http://127.0.0.1:53817/other", false),
            ("http://[::1]/cb", "http://[::1]:4000/cb", true),
            ("http://127.0.0.1/cb", "http://[::1]:4000/cb", false),
            ("http://localhost/cb", "http://localhost:4000/cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:80x/cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example/cb", false),
            // No path at all, as some native apps register it.
            ("http://127.0.0.1", "http://127.0.0.1:5000", true),
            ("http://127.0.0.1", "http://127.0.0.1:5000/", false),
            ("http://[::1]:4000", "http://[::1]", true),
            // The default port written out is still just a port.
            ("http://127.0.0.1/cb", "http://127.0.0.1:80/cb", true),
            // Spellings the parser would make equal stay apart (simple string comparison).
            ("http://127.0.0.1/cb", "http://127.0.0.1:5000/a/../cb", false),
            ("http://127.0.0.1/c%62", "http://127.0.0.1:5000/cb", false),
            ("http://127.0.0.1/cb", "HTTP://127.0.0.1:5000/cb", false),
            ("http://127.0.0.1/cb", "http://user@127.0.0.1:5000/cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:65536/cb", false),
            ("http://127.0.0.1/cb", "https://127.0.0.1:5000/cb", false),
            ("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5000/cb?x=1", true),
            ("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5000/cb?x=2", false),
        ];
        for (registered, presented, expected) in cases {
            assert_eq!(redirect_uri_matches(registered, presented), expected, "{registered} vs {presented}");
        }
    }

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// A confidential client `app` with one redirect URI and scope `read write`.
    struct Registered {
        app: ClientId,
        uris: Vec<String>,
        scope: Scope,
    }

    impl Registered {
        fn new() -> Self {
            let scope = Scope::parse("read write").unwrap_or_default();
            Registered { app: ClientId::new("app"), uris: vec!["http://127.0.0.1/callback".to_owned()], scope }
        }

        fn confidential(&self) -> ClientView<'_> {
            ClientView {
                client_id: &self.app,
                redirect_uris: &self.uris,
                allows_authorization_code: true,
                is_public: false,
                scope: &self.scope,
            }
        }
    }

    #[test]
    fn request_table() {
        let registered = Registered::new();
        let scope = registered.scope.clone();
        let confidential = registered.confidential();
        let public = ClientView { is_public: true, ..confidential.clone() };
        let no_code = ClientView { allows_authorization_code: false, ..confidential.clone() };
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let good = [("response_type", "code"), ("client_id", "app"), ("state", "xyz")];
        let fatal = |r: &Result<AuthorizationRequest, AuthorizeError>| matches!(r, Err(AuthorizeError::Fatal(_)));
        let redirected = |r: &Result<AuthorizationRequest, AuthorizeError>, want: ErrorCode| matches!(r, Err(AuthorizeError::Redirect { code, state: Some(state), .. }) if *code == want && state == "xyz");
        assert!(fatal(&AuthorizationRequest::parse(&params(&good), None)));
        let mut bad_uri = good.to_vec();
        bad_uri.push(("redirect_uri", "https://evil.example/cb"));
        assert!(fatal(&AuthorizationRequest::parse(&params(&bad_uri), Some(&confidential))));
        let ok = AuthorizationRequest::parse(&params(&good), Some(&confidential));
        assert!(
            matches!(&ok, Ok(r) if r.redirect_uri == "http://127.0.0.1/callback" && !r.redirect_uri_given && r.scope == scope)
        );
        let mut token = good.to_vec();
        token[0] = ("response_type", "token");
        assert!(redirected(
            &AuthorizationRequest::parse(&params(&token), Some(&confidential)),
            ErrorCode::UnsupportedResponseType
        ));
        assert!(redirected(&AuthorizationRequest::parse(&params(&good), Some(&public)), ErrorCode::InvalidRequest));
        assert!(redirected(
            &AuthorizationRequest::parse(&params(&good), Some(&no_code)),
            ErrorCode::UnauthorizedClient
        ));
        let mut wide = good.to_vec();
        wide.push(("scope", "admin"));
        assert!(redirected(&AuthorizationRequest::parse(&params(&wide), Some(&confidential)), ErrorCode::InvalidScope));
        let mut plain = good.to_vec();
        plain.extend([("code_challenge", challenge), ("code_challenge_method", "plain")]);
        assert!(redirected(&AuthorizationRequest::parse(&params(&plain), Some(&public)), ErrorCode::InvalidRequest));
        let mut pkce = good.to_vec();
        pkce.extend([
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("redirect_uri", "http://127.0.0.1:5555/callback"),
        ]);
        let ok = AuthorizationRequest::parse(&params(&pkce), Some(&public));
        assert!(matches!(&ok, Ok(r) if r.code_challenge.as_deref() == Some(challenge) && r.redirect_uri_given));
    }

    /// (case, dpop_jkt sent) → the thumbprint kept, or the error redirected.
    type DpopJktCase = (&'static str, Option<&'static str>, Result<Option<&'static str>, ErrorCode>);

    /// RFC 9449 §10: `dpop_jkt` is optional; when sent it must be a thumbprint, and a malformed
    /// one is `invalid_request`, redirected (the redirect URI is verified by then).
    #[test]
    fn dpop_jkt_table() {
        let registered = Registered::new();
        let client = registered.confidential();
        let rfc = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        let rows: &[DpopJktCase] = &[
            ("absent", None, Ok(None)),
            ("a thumbprint", Some(rfc), Ok(Some(rfc))),
            ("padded", Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I="), Err(ErrorCode::InvalidRequest)),
            ("too short", Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4"), Err(ErrorCode::InvalidRequest)),
            ("not base64url", Some("0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I"), Err(ErrorCode::InvalidRequest)),
            ("empty", Some(""), Err(ErrorCode::InvalidRequest)),
            ("a JWK, not its thumbprint", Some(r#"{"kty":"EC"}"#), Err(ErrorCode::InvalidRequest)),
        ];
        for (name, dpop_jkt, expected) in rows {
            let mut pairs = vec![("response_type", "code"), ("client_id", "app"), ("state", "xyz")];
            pairs.extend(dpop_jkt.map(|jkt| ("dpop_jkt", jkt)));
            let got = match AuthorizationRequest::parse(&params(&pairs), Some(&client)) {
                Ok(request) => Ok(request.dpop_jkt.map(Thumbprint::into_string)),
                Err(AuthorizeError::Redirect { code, state, .. }) if state.as_deref() == Some("xyz") => Err(code),
                Err(other) => panic!("{name}: {other:?}"),
            };
            assert_eq!(got, expected.map(|jkt| jkt.map(str::to_owned)), "{name}");
        }
    }
}
