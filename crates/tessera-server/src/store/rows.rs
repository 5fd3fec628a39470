//! Rows as the store reads and writes them.

use tessera_core::dpop::Thumbprint;
use tessera_core::{
    ClientId, FamilyId, GrantType, IntrospectionAccess, IssuedCode, Origin, Scope, Timestamp, TokenHash, UserId,
};

pub(crate) const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, grant_types, scope, created_at, may_introspect, allowed_origins, require_dpop";
pub(crate) const USER_COLUMNS: &str =
    "user_id, username, email, password_hash, is_admin, created_at, name, email_verified, updated_at, disabled";

/// A registered client application. Its secret is present only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub client_id: ClientId,
    pub name: String,
    pub secret_hash: Option<TokenHash>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scope: Scope,
    pub created_at: Timestamp,
    /// Which tokens it may introspect besides its own (`clients.may_introspect`).
    pub introspection: IntrospectionAccess,
    /// The web origins its browser app may call from (`clients.allowed_origins`, CORS).
    pub allowed_origins: Vec<Origin>,
    /// RFC 9449: the token endpoint refuses this client's requests without a DPoP proof
    /// (`clients.require_dpop`).
    pub require_dpop: bool,
}

impl ClientRow {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows_grant(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }
}

/// A user. `password_hash` is an Argon2id PHC string; `Debug` leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: Timestamp,
    /// The full name (OpenID Connect `name`), if known.
    pub name: Option<String>,
    pub email_verified: bool,
    /// When the profile last changed; `None` if never since `created_at`.
    pub updated_at: Option<Timestamp>,
    /// A disabled user cannot sign in (login page, password grant, browser sessions).
    pub disabled: bool,
}

impl UserRow {
    /// The user's profile, as OpenID Connect claims are made from it.
    pub fn profile(&self) -> tessera_core::oidc::claims::Profile<'_> {
        tessera_core::oidc::claims::Profile {
            username: &self.username,
            name: self.name.as_deref(),
            email: self.email.as_deref(),
            email_verified: self.email_verified,
            updated_at: self.updated_at.unwrap_or(self.created_at),
        }
    }
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"[redacted]")
            .field("is_admin", &self.is_admin)
            .field("name", &self.name)
            .field("email_verified", &self.email_verified)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A signing key as stored: the private half only as ciphertext under the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub encrypted_private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
    /// Set by `tessera keys revoke` (which also sets `retired_at`).
    pub revoked_at: Option<Timestamp>,
}

impl SigningKeyRow {
    pub fn state(&self) -> tessera_core::KeyState {
        tessera_core::KeyState::of(self.retired_at, self.revoked_at)
    }
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A personal access token as stored: the token itself only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalAccessTokenRow {
    pub pat_id: String,
    pub token_hash: TokenHash,
    pub user_id: UserId,
    pub username: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl PersonalAccessTokenRow {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

/// An authorization code as stored: the code itself only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRow {
    pub code_hash: TokenHash,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub code_challenge: Option<String>,
    /// RFC 9449 §10: the DPoP key the authorization request bound the code to.
    pub dpop_jkt: Option<Thumbprint>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub family_id: Option<FamilyId>,
}

impl AuthorizationCodeRow {
    /// What core's redemption decision needs to know about this code.
    pub fn issued(&self) -> IssuedCode<'_> {
        IssuedCode {
            client_id: &self.client_id,
            redirect_uri: &self.redirect_uri,
            redirect_uri_given: self.redirect_uri_given,
            code_challenge: self.code_challenge.as_deref(),
            dpop_jkt: self.dpop_jkt.as_ref(),
            expires_at: self.expires_at,
            used_at: self.used_at,
        }
    }
}

/// `clients.redirect_uris` as stored: a JSON array.
pub(crate) fn encode_redirect_uris(uris: &[String]) -> String {
    serde_json::to_string(uris).unwrap_or_else(|_| "[]".into())
}

/// `clients.grant_types` as stored: space-separated RFC names.
pub(crate) fn encode_grant_types(grants: &[GrantType]) -> String {
    grants.iter().map(|grant| grant.as_str()).collect::<Vec<_>>().join(" ")
}

/// `clients.redirect_uris` as stored (a JSON array), read back; the same text on both backends.
pub(crate) fn decode_redirect_uris(stored: &str) -> super::StoreResult<Vec<String>> {
    serde_json::from_str(stored).map_err(|error| super::StoreError::Corrupt(format!("clients.redirect_uris: {error}")))
}

/// `clients.may_introspect` as stored: 0 or 1.
pub(crate) fn encode_introspection(access: IntrospectionAccess) -> i64 {
    match access {
        IntrospectionAccess::OwnTokens => 0,
        IntrospectionAccess::AnyAccessToken => 1,
    }
}

/// `clients.may_introspect` read back: anything but 1 shows the client its own tokens only.
pub(crate) fn decode_introspection(stored: i64) -> IntrospectionAccess {
    if stored == 1 { IntrospectionAccess::AnyAccessToken } else { IntrospectionAccess::OwnTokens }
}

/// `clients.grant_types` as stored (space-separated RFC names), read back.
pub(crate) fn decode_grant_types(stored: &str) -> super::StoreResult<Vec<GrantType>> {
    stored
        .split_whitespace()
        .map(|name| {
            GrantType::parse(name)
                .ok_or_else(|| super::StoreError::Corrupt(format!("clients.grant_types: unknown grant {name:?}")))
        })
        .collect()
}

/// `clients.allowed_origins` as stored: a JSON array of normalised origins.
pub(crate) fn encode_origins(origins: &[Origin]) -> String {
    serde_json::to_string(&origins.iter().map(Origin::as_str).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

/// `clients.allowed_origins` read back; each is parsed again, so a row edited by hand into
/// something that is not an origin is reported, never matched.
pub(crate) fn decode_origins(stored: &str) -> super::StoreResult<Vec<Origin>> {
    let corrupt = |error: String| super::StoreError::Corrupt(format!("clients.allowed_origins: {error}"));
    let typed: Vec<String> = serde_json::from_str(stored).map_err(|error| corrupt(error.to_string()))?;
    typed.iter().map(|origin| Origin::parse(origin).map_err(|error| corrupt(error.to_string()))).collect()
}
