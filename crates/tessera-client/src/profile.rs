//! What a profile stores (client settings and the current tokens) and when its access token is due
//! for a refresh.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::{AccessToken, ClientSecret, RefreshToken};
use serde::{Deserialize, Serialize};

use crate::id_token::IdToken;

/// How the client authenticates at the token and revocation endpoints (RFC 6749 §2.3.1; names from
/// RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret (the guide's Postman recipe).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body (the guide's Python and cURL recipes).
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret.
    None,
}

impl ClientAuthMethod {
    /// The RFC 7591 name of the method.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }
}

/// Everything about the client registration and the server that a refresh needs, apart from the
/// tokens themselves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientSettings {
    /// The issuer URL, when known; relative API paths are resolved against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The authorization endpoint (RFC 6749 §3.1), for the authorization-code login in a
    /// browser; not needed by the password grant or by refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// The token endpoint (RFC 6749 §3.2).
    pub token_endpoint: String,
    /// The revocation endpoint (RFC 7009), when the server has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// The client identifier (RFC 6749 §2.2).
    pub client_id: String,
    /// The client secret of a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// How the client authenticates.
    pub client_auth: ClientAuthMethod,
    /// The scope requested at login, space-separated (RFC 6749 §3.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The issuer's JWK set (RFC 8414 `jwks_uri`), which verifies id tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Whether every token request carries a DPoP proof (RFC 9449 §5) by the profile's key
    /// ([`CredentialStore::dpop_key`](crate::CredentialStore::dpop_key)), so the server binds
    /// the tokens to it; set by `tessera login --dpop`. Absent in profiles written before DPoP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop: bool,
}

impl ClientSettings {
    /// Settings for a plain token endpoint, without discovery (the guide's case).
    ///
    /// The client authenticates with HTTP Basic when it has a secret and as a public client
    /// otherwise; change [`client_auth`](Self::client_auth) for `client_secret_post`.
    pub fn new(
        token_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<ClientSecret>,
    ) -> Self {
        let client_auth = match client_secret {
            Some(_) => ClientAuthMethod::ClientSecretBasic,
            None => ClientAuthMethod::None,
        };
        Self {
            issuer: None,
            authorization_endpoint: None,
            token_endpoint: token_endpoint.into(),
            revocation_endpoint: None,
            client_id: client_id.into(),
            client_secret,
            client_auth,
            scope: None,
            jwks_uri: None,
            dpop: false,
        }
    }

    /// The base URL for relative API paths: the issuer, or else the token endpoint's origin.
    pub fn api_base(&self) -> Option<String> {
        if let Some(issuer) = &self.issuer {
            return Some(issuer.trim_end_matches('/').to_owned());
        }
        let token_endpoint = oauth2::url::Url::parse(&self.token_endpoint).ok()?;
        // An origin serializes as scheme://host[:port], without a trailing slash.
        Some(token_endpoint.origin().ascii_serialization())
    }
}

/// How an access token is presented to a resource (the token response's `token_type`,
/// RFC 6749 §7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    #[default]
    Bearer,
    /// `Authorization: DPoP <token>` with a `DPoP` proof by the key the token is bound to
    /// (RFC 9449 §7.1).
    #[serde(rename = "DPoP")]
    Dpop,
}

impl TokenType {
    /// The type a token response names: `DPoP` (any case) or else a bearer token.
    pub fn from_response(token_type: &str) -> Self {
        if token_type.eq_ignore_ascii_case("dpop") { TokenType::Dpop } else { TokenType::Bearer }
    }

    /// The `Authorization` scheme, as RFC 6750 and RFC 9449 spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::Dpop => "DPoP",
        }
    }

    fn is_bearer(&self) -> bool {
        *self == TokenType::Bearer
    }
}

/// The tokens of a profile and when they were obtained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSet {
    /// The current access token.
    pub access_token: AccessToken,
    /// How to present it: `DPoP` when the server bound it to the profile's DPoP key.
    #[serde(default, skip_serializing_if = "TokenType::is_bearer")]
    pub token_type: TokenType,
    /// When the access token was requested, in Unix seconds (the start of its lifetime, as far as
    /// this client can tell).
    pub obtained_at: u64,
    /// When the access token expires, in Unix seconds; `None` when the server did not say
    /// (`expires_in` is optional, RFC 6749 §5.1), in which case only a rejection triggers a
    /// refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The current refresh token; every refresh rotates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// The scope granted to the access token, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The latest id token (OpenID Connect Core §2), validated before it was stored; a refresh
    /// without one keeps the previous one (§12.2). Absent without the `openid` scope, and in
    /// profiles written before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
}

/// How long before expiry an access token is refreshed: `min(60 s, 10 % of its lifetime)`.
///
/// The 60 s bound keeps hour-long tokens in use for 59 minutes; the 10 % bound keeps short-lived
/// tokens (seconds) from being refreshed on every call.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    Duration::from_secs(60).min(lifetime / 10)
}

impl TokenSet {
    /// The access token's lifetime as issued, when the server gave one.
    pub fn lifetime(&self) -> Option<Duration> {
        self.expires_at.map(|expires_at| Duration::from_secs(expires_at.saturating_sub(self.obtained_at)))
    }

    /// True when, at `now`, less than [`refresh_margin`] of the access token's lifetime remains
    /// (or it has expired). A token without a known expiry is never due.
    pub fn needs_refresh(&self, now: SystemTime) -> bool {
        let (Some(expires_at), Some(lifetime)) = (self.expires_at, self.lifetime()) else {
            return false;
        };
        let expiry = UNIX_EPOCH + Duration::from_secs(expires_at);
        let remaining = expiry.duration_since(now).unwrap_or(Duration::ZERO);
        remaining.is_zero() || remaining < refresh_margin(lifetime)
    }
}

/// One profile of the credential store: the client settings and the current tokens.
///
/// The user's password is never part of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// Client registration and server endpoints.
    pub client: ClientSettings,
    /// The current tokens.
    pub tokens: TokenSet,
}

/// A successful token-endpoint response (RFC 6749 §5.1), as returned by a login or a forced
/// refresh.
///
/// `Debug` redacts the tokens; serializing it (e.g. with `serde_json`) writes them out, which is
/// what `tessera token refresh` is for.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// `Bearer` (RFC 6750), or `DPoP` for a token bound to the profile's DPoP key (RFC 9449 §5).
    pub token_type: String,
    /// The new access token.
    pub access_token: AccessToken,
    /// Lifetime of the access token in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The new (rotated) refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// The granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The id token, when the scope includes `openid` (validated before this is returned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn tokens(obtained_at: u64, expires_in: Option<u64>) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new("access".into()),
            token_type: TokenType::Bearer,
            obtained_at,
            expires_at: expires_in.map(|expires_in| obtained_at + expires_in),
            refresh_token: Some(RefreshToken::new("tsr_refresh".into())),
            scope: None,
            id_token: None,
        }
    }

    fn at(unix_seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_seconds)
    }

    #[test]
    fn margin_is_the_smaller_of_sixty_seconds_and_a_tenth_of_the_lifetime() {
        let cases = [
            (3600, 60_000), // one hour: 60 s wins over 360 s
            (600, 60_000),  // exactly equal
            (300, 30_000),  // 10 % wins
            (30, 3_000),
            (5, 500),
            (0, 0),
        ];
        for (lifetime_seconds, margin_millis) in cases {
            assert_eq!(
                refresh_margin(Duration::from_secs(lifetime_seconds)),
                Duration::from_millis(margin_millis),
                "lifetime {lifetime_seconds} s"
            );
        }
    }

    #[test]
    fn proactive_refresh_rule_with_a_fixed_clock() {
        let start = 1_700_000_000;
        // (lifetime, seconds after issue, due?)
        let cases = [
            (3600, 0, false),
            (3600, 3539, false), // 61 s left
            (3600, 3540, false), // exactly 60 s left: not less than the margin
            (3600, 3541, true),  // 59 s left
            (3600, 3600, true),  // expired now
            (3600, 9999, true),  // long expired
            (300, 269, false),   // 31 s left, margin 30 s
            (300, 271, true),    // 29 s left
            (30, 26, false),     // 4 s left, margin 3 s
            (30, 28, true),      // 2 s left
            (0, 0, true),        // born expired
        ];
        for (lifetime, elapsed, due) in cases {
            let set = tokens(start, Some(lifetime));
            assert_eq!(set.needs_refresh(at(start + elapsed)), due, "lifetime {lifetime} s, {elapsed} s after issue");
        }
    }

    #[test]
    fn a_token_without_expiry_is_never_due() {
        let set = tokens(1_700_000_000, None);
        assert!(!set.needs_refresh(at(1_800_000_000)));
    }

    #[test]
    fn a_clock_before_issue_counts_the_whole_lifetime_as_remaining() {
        let set = tokens(1_700_000_000, Some(3600));
        assert!(!set.needs_refresh(at(1_699_999_000)));
    }

    #[test]
    fn debug_redacts_every_secret() {
        let profile = Profile {
            client: ClientSettings::new(
                "http://127.0.0.1:1/oauth/token",
                "client-1",
                Some(ClientSecret::new("client-secret-value".into())),
            ),
            tokens: TokenSet {
                access_token: AccessToken::new("access-token-value".into()),
                token_type: TokenType::Dpop,
                obtained_at: 1,
                expires_at: Some(2),
                refresh_token: Some(RefreshToken::new("tsr_refresh-token-value".into())),
                scope: Some("a b".into()),
                id_token: Some(IdToken::new("id-token-value".into())),
            },
        };
        let response = TokenResponse {
            token_type: "Bearer".into(),
            access_token: AccessToken::new("access-token-value".into()),
            expires_in: Some(3600),
            refresh_token: Some(RefreshToken::new("tsr_refresh-token-value".into())),
            scope: None,
            id_token: Some(IdToken::new("id-token-value".into())),
        };
        let password = oauth2::ResourceOwnerPassword::new("password-value".into());
        for debug in [format!("{profile:?}"), format!("{profile:#?}"), format!("{response:?}"), format!("{password:?}")]
        {
            assert!(debug.contains("[redacted]"), "{debug}");
            for secret in ["secret-value", "token-value", "password-value"] {
                assert!(!debug.contains(secret), "{secret} leaked in {debug}");
            }
        }
        assert!(format!("{profile:?}").contains("client-1"));
    }

    #[test]
    fn api_base_prefers_the_issuer_then_the_token_endpoint_origin() {
        let mut settings = ClientSettings::new("https://auth.example.com:8443/oauth/token", "c", None);
        assert_eq!(settings.api_base().as_deref(), Some("https://auth.example.com:8443"));
        settings.issuer = Some("https://api.example.com/".into());
        assert_eq!(settings.api_base().as_deref(), Some("https://api.example.com"));
    }
}
