//! Rows read back from rusqlite result rows, and the helpers that run a cached statement for
//! one optional row or for all rows.

use crate::store::{
    AuthorizationCodeRow, ClientRow, PersonalAccessTokenRow, SigningKeyRow, StoreError, StoreResult, UserRow,
};
use rusqlite::{Connection, Params, Row};
use tessera_core::dpop::Thumbprint;
use tessera_core::{ClientId, FamilyId, Scope, Timestamp, TokenHash, UserId};

/// Runs `sql` (prepared once per connection) and maps its first row, if any.
pub(super) fn optional<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// Runs `sql` (prepared once per connection) and maps every row.
pub(super) fn all<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Runs a write statement (prepared once per connection); returns the rows it changed.
pub(super) fn execute(connection: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    Ok(connection.prepare_cached(sql)?.execute(params)?)
}

pub(super) fn ts(row: &Row<'_>, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_millis(row.get::<_, i64>(column)?))
}

pub(super) fn opt_ts(row: &Row<'_>, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(column)?.map(Timestamp::from_millis))
}

pub(super) fn scope(row: &Row<'_>, column: &str) -> StoreResult<Scope> {
    let text: String = row.get(column)?;
    Scope::parse(&text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// A unique or primary-key violation becomes [`StoreError::Conflict`].
pub(super) fn unique_violation(error: StoreError, what: &'static str) -> StoreError {
    match &error {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(what)
        }
        _ => error,
    }
}

pub(super) fn client(row: &Row<'_>) -> StoreResult<ClientRow> {
    let redirect_uris: String = row.get("redirect_uris")?;
    let grant_types: String = row.get("grant_types")?;
    Ok(ClientRow {
        client_id: ClientId::new(row.get::<_, String>("client_id")?),
        name: row.get("name")?,
        secret_hash: row.get::<_, Option<String>>("secret_hash")?.map(TokenHash::from_stored),
        redirect_uris: crate::store::rows::decode_redirect_uris(&redirect_uris)?,
        grant_types: crate::store::rows::decode_grant_types(&grant_types)?,
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        introspection: crate::store::rows::decode_introspection(row.get("may_introspect")?),
        allowed_origins: crate::store::rows::decode_origins(&row.get::<_, String>("allowed_origins")?)?,
        require_dpop: row.get::<_, i64>("require_dpop")? == 1,
    })
}

pub(super) fn user(row: &Row<'_>) -> StoreResult<UserRow> {
    Ok(UserRow {
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        username: row.get("username")?,
        email: row.get("email")?,
        password_hash: row.get("password_hash")?,
        is_admin: row.get::<_, i64>("is_admin")? != 0,
        created_at: ts(row, "created_at")?,
        name: row.get("name")?,
        email_verified: row.get::<_, i64>("email_verified")? != 0,
        updated_at: opt_ts(row, "updated_at")?,
        disabled: row.get::<_, i64>("disabled")? != 0,
    })
}

pub(super) fn signing_key(row: &Row<'_>) -> StoreResult<SigningKeyRow> {
    Ok(SigningKeyRow {
        kid: row.get("kid")?,
        algorithm: row.get("algorithm")?,
        encrypted_private_key: row.get("private_key")?,
        public_jwk: row.get("public_jwk")?,
        created_at: ts(row, "created_at")?,
        retired_at: opt_ts(row, "retired_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

pub(super) fn personal_access_token(row: &Row<'_>) -> StoreResult<PersonalAccessTokenRow> {
    Ok(PersonalAccessTokenRow {
        pat_id: row.get("pat_id")?,
        token_hash: TokenHash::from_stored(row.get("token_hash")?),
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        username: row.get("username")?,
        name: row.get("name")?,
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

pub(super) fn authorization_code(row: &Row<'_>) -> StoreResult<AuthorizationCodeRow> {
    Ok(AuthorizationCodeRow {
        code_hash: TokenHash::from_stored(row.get("code_hash")?),
        client_id: ClientId::new(row.get::<_, String>("client_id")?),
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        redirect_uri: row.get("redirect_uri")?,
        redirect_uri_given: row.get::<_, i64>("redirect_uri_given")? != 0,
        scope: scope(row, "scope")?,
        code_challenge: row.get("code_challenge")?,
        dpop_jkt: row.get::<_, Option<String>>("dpop_jkt")?.map(Thumbprint::from_stored),
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        used_at: opt_ts(row, "used_at")?,
        family_id: row.get::<_, Option<String>>("family_id")?.map(FamilyId::new),
    })
}
