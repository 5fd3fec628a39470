//! Rows read back from `sqlx::Any` result rows.

use super::{opt_ts, scope, ts};
use crate::store::{AuthorizationCodeRow, ClientRow, PersonalAccessTokenRow, SigningKeyRow, StoreResult, UserRow};
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::dpop::Thumbprint;
use tessera_core::{ClientId, FamilyId, TokenHash, UserId};

impl ClientRow {
    pub(super) fn from_any_row(row: &AnyRow) -> StoreResult<Self> {
        let redirect_uris: String = row.try_get("redirect_uris")?;
        let grant_types: String = row.try_get("grant_types")?;
        Ok(ClientRow {
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            name: row.try_get("name")?,
            secret_hash: row.try_get::<Option<String>, _>("secret_hash")?.map(TokenHash::from_stored),
            redirect_uris: crate::store::rows::decode_redirect_uris(&redirect_uris)?,
            grant_types: crate::store::rows::decode_grant_types(&grant_types)?,
            scope: scope(row, "scope")?,
            created_at: ts(row, "created_at")?,
            introspection: crate::store::rows::decode_introspection(row.try_get("may_introspect")?),
            allowed_origins: crate::store::rows::decode_origins(&row.try_get::<String, _>("allowed_origins")?)?,
            require_dpop: row.try_get::<i64, _>("require_dpop")? == 1,
        })
    }
}

impl UserRow {
    pub(super) fn from_any_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(UserRow {
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            is_admin: row.try_get::<i64, _>("is_admin")? != 0,
            created_at: ts(row, "created_at")?,
            name: row.try_get("name")?,
            email_verified: row.try_get::<i64, _>("email_verified")? != 0,
            updated_at: opt_ts(row, "updated_at")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
        })
    }
}

impl SigningKeyRow {
    pub(super) fn from_any_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(SigningKeyRow {
            kid: row.try_get("kid")?,
            algorithm: row.try_get("algorithm")?,
            encrypted_private_key: row.try_get("private_key")?,
            public_jwk: row.try_get("public_jwk")?,
            created_at: ts(row, "created_at")?,
            retired_at: opt_ts(row, "retired_at")?,
            revoked_at: opt_ts(row, "revoked_at")?,
        })
    }
}

impl PersonalAccessTokenRow {
    pub(super) fn from_any_row(row: &AnyRow) -> StoreResult<Self> {
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

impl AuthorizationCodeRow {
    pub(super) fn from_any_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(AuthorizationCodeRow {
            code_hash: TokenHash::from_stored(row.try_get("code_hash")?),
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            redirect_uri: row.try_get("redirect_uri")?,
            redirect_uri_given: row.try_get::<i64, _>("redirect_uri_given")? != 0,
            scope: scope(row, "scope")?,
            code_challenge: row.try_get("code_challenge")?,
            dpop_jkt: row.try_get::<Option<String>, _>("dpop_jkt")?.map(Thumbprint::from_stored),
            created_at: ts(row, "created_at")?,
            expires_at: ts(row, "expires_at")?,
            used_at: opt_ts(row, "used_at")?,
            family_id: row.try_get::<Option<String>, _>("family_id")?.map(FamilyId::new),
        })
    }
}
