//! Rows as the store reads and writes them.

use super::{StoreError, StoreResult, opt_ts, scope, ts};
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::{ClientId, FamilyId, GrantType, IssuedCode, Scope, Timestamp, TokenHash, UserId};

pub(super) const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, grant_types, scope, created_at";
pub(super) const USER_COLUMNS: &str = "user_id, username, email, password_hash, is_admin, created_at";

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
}

impl ClientRow {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows_grant(&self, grant_type: GrantType) -> bool {
        self.grant_types.contains(&grant_type)
    }

    pub(super) fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let redirect_uris: String = row.try_get("redirect_uris")?;
        let grant_types: String = row.try_get("grant_types")?;
        Ok(ClientRow {
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            name: row.try_get("name")?,
            secret_hash: row.try_get::<Option<String>, _>("secret_hash")?.map(TokenHash::from_stored),
            redirect_uris: serde_json::from_str(&redirect_uris)
                .map_err(|error| StoreError::Corrupt(format!("clients.redirect_uris: {error}")))?,
            grant_types: grant_types
                .split_whitespace()
                .map(|name| {
                    GrantType::parse(name)
                        .ok_or_else(|| StoreError::Corrupt(format!("clients.grant_types: unknown grant {name:?}")))
                })
                .collect::<StoreResult<_>>()?,
            scope: scope(row, "scope")?,
            created_at: ts(row, "created_at")?,
        })
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
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"[redacted]")
            .field("is_admin", &self.is_admin)
            .finish()
    }
}

impl UserRow {
    pub(super) fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(UserRow {
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            is_admin: row.try_get::<i64, _>("is_admin")? != 0,
            created_at: ts(row, "created_at")?,
        })
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
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SigningKeyRow {
    pub(super) fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(SigningKeyRow {
            kid: row.try_get("kid")?,
            algorithm: row.try_get("algorithm")?,
            encrypted_private_key: row.try_get("private_key")?,
            public_jwk: row.try_get("public_jwk")?,
            created_at: ts(row, "created_at")?,
            retired_at: opt_ts(row, "retired_at")?,
        })
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

    pub(super) fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(PersonalAccessTokenRow {
            pat_id: row.try_get("pat_id")?,
            token_hash: TokenHash::from_stored(row.try_get("token_hash")?),
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            username: row.try_get("username")?,
            name: row.try_get("name")?,
            scope: scope(row, "scope")?,
            created_at: ts(row, "created_at")?,
            expires_at: opt_ts(row, "expires_at")?,
            revoked_at: opt_ts(row, "revoked_at")?,
        })
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
            expires_at: self.expires_at,
            used_at: self.used_at,
        }
    }

    pub(super) fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(AuthorizationCodeRow {
            code_hash: TokenHash::from_stored(row.try_get("code_hash")?),
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            redirect_uri: row.try_get("redirect_uri")?,
            redirect_uri_given: row.try_get::<i64, _>("redirect_uri_given")? != 0,
            scope: scope(row, "scope")?,
            code_challenge: row.try_get("code_challenge")?,
            created_at: ts(row, "created_at")?,
            expires_at: ts(row, "expires_at")?,
            used_at: opt_ts(row, "used_at")?,
            family_id: row.try_get::<Option<String>, _>("family_id")?.map(FamilyId::new),
        })
    }
}
