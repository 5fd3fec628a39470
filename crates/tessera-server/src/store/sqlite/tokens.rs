//! The SQLite store's other token tables: personal access tokens, authorization codes, browser
//! sessions and revoked access tokens (families and refresh tokens are in `refresh.rs`).

use super::SqliteStore;
use super::refresh::insert_family;
use super::rows::{execute, opt_ts, optional};
use crate::store::refresh::{CAP_PENDING_CODES, PENDING_CODES_PER_USER};
use crate::store::rows::USER_COLUMNS;
use crate::store::{AuthorizationCodeRow, PersonalAccessTokenRow, StoreResult, UserRow};
use rusqlite::params;
use tessera_core::dpop::Thumbprint;
use tessera_core::{Family, FamilyId, Jti, Timestamp, TokenHash, UserId};

const PAT_SELECT: &str = "SELECT p.token_hash, p.pat_id, p.user_id, u.username, p.name, p.scope, p.created_at, \
     p.expires_at, p.revoked_at FROM personal_access_tokens p JOIN users u ON u.user_id = p.user_id";

impl SqliteStore {
    // ---- personal access tokens -------------------------------------------------------

    pub async fn insert_personal_access_token(&self, pat: &PersonalAccessTokenRow) -> StoreResult<()> {
        let pat = pat.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO personal_access_tokens (token_hash, pat_id, user_id, name, scope, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    pat.token_hash.as_str(),
                    pat.pat_id,
                    pat.user_id.as_str(),
                    pat.name,
                    pat.scope.to_string(),
                    pat.created_at.millis(),
                    pat.expires_at.map(Timestamp::millis)
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn find_personal_access_token(&self, hash: &TokenHash) -> StoreResult<Option<PersonalAccessTokenRow>> {
        self.read(|connection| {
            let sql = format!("{PAT_SELECT} WHERE p.token_hash = ?1");
            optional(connection, &sql, [hash.as_str()], super::rows::personal_access_token)
        })
    }

    pub async fn list_personal_access_tokens(
        &self,
        username: Option<&str>,
    ) -> StoreResult<Vec<PersonalAccessTokenRow>> {
        self.read(|connection| match username {
            Some(username) => {
                let sql = format!("{PAT_SELECT} WHERE u.username = ?1 ORDER BY p.created_at, p.pat_id");
                super::rows::all(connection, &sql, [username], super::rows::personal_access_token)
            }
            None => {
                let sql = format!("{PAT_SELECT} ORDER BY p.created_at, p.pat_id");
                super::rows::all(connection, &sql, [], super::rows::personal_access_token)
            }
        })
    }

    pub async fn revoke_personal_access_token(&self, pat_id: &str, now: Timestamp) -> StoreResult<bool> {
        let pat_id = pat_id.to_owned();
        self.write(move |connection| {
            let sql = "UPDATE personal_access_tokens SET revoked_at = ?1 WHERE pat_id = ?2 AND revoked_at IS NULL";
            Ok(execute(connection, sql, params![now.millis(), pat_id])? > 0)
        })
        .await
    }

    // ---- authorization codes and browser sessions --------------------------------------

    pub async fn insert_authorization_code(&self, code: &AuthorizationCodeRow) -> StoreResult<()> {
        let code = code.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_given, \
                 scope, code_challenge, dpop_jkt, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    code.code_hash.as_str(),
                    code.client_id.as_str(),
                    code.user_id.as_str(),
                    code.redirect_uri,
                    i64::from(code.redirect_uri_given),
                    code.scope.to_string(),
                    code.code_challenge,
                    code.dpop_jkt.as_ref().map(Thumbprint::as_str),
                    code.created_at.millis(),
                    code.expires_at.millis()
                ],
            )?;
            let cap = CAP_PENDING_CODES.replace('$', "?");
            execute(
                connection,
                &cap,
                params![code.user_id.as_str(), code.code_hash.as_str(), PENDING_CODES_PER_USER - 1],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn find_authorization_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCodeRow>> {
        self.read(|connection| {
            let sql = "SELECT code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope, code_challenge, \
                       dpop_jkt, created_at, expires_at, used_at, family_id FROM authorization_codes WHERE code_hash = ?1";
            optional(connection, sql, [hash.as_str()], super::rows::authorization_code)
        })
    }

    /// Redeems a code (compare-and-set) and inserts the family it starts, in one writer
    /// operation; false, changing nothing, if the code was already used.
    pub async fn redeem_authorization_code(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<bool> {
        let (hash, family) = (hash.clone(), family.clone());
        let first_token = first_token.map(|(token, expires)| (token.clone(), expires));
        self.write(move |connection| {
            let sql = "UPDATE authorization_codes SET used_at = ?1, family_id = ?2 \
                       WHERE code_hash = ?3 AND used_at IS NULL";
            if execute(connection, sql, params![now.millis(), family.id.as_str(), hash.as_str()])? != 1 {
                return Ok(false);
            }
            insert_family(connection, &family, first_token.as_ref())?;
            Ok(true)
        })
        .await
    }

    pub async fn insert_browser_session(
        &self,
        hash: &TokenHash,
        user_id: &UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let (hash, user_id) = (hash.clone(), user_id.clone());
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO browser_sessions (session_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash.as_str(), user_id.as_str(), now.millis(), expires_at.millis()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn find_browser_session(&self, hash: &TokenHash, now: Timestamp) -> StoreResult<Option<UserRow>> {
        self.read(|connection| {
            let columns = USER_COLUMNS.split(", ").map(|column| format!("u.{column}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {columns} FROM browser_sessions s JOIN users u ON u.user_id = s.user_id \
                 WHERE s.session_hash = ?1 AND s.expires_at > ?2"
            );
            optional(connection, &sql, params![hash.as_str(), now.millis()], super::rows::user)
        })
    }

    // ---- access-token revocation ------------------------------------------------------

    pub async fn revoke_access_token(&self, jti: &Jti, expires_at: Timestamp) -> StoreResult<()> {
        let jti = jti.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![jti.as_str(), expires_at.millis()],
            )?;
            Ok(())
        })
        .await
    }

    /// One read connection, two cached lookups: the `jti`, then the family (gone: fail closed).
    pub async fn access_token_revoked(&self, family_id: Option<&FamilyId>, jti: &Jti) -> StoreResult<bool> {
        self.read(|connection| {
            let sql = "SELECT 1 FROM revoked_access_tokens WHERE jti = ?1";
            if optional(connection, sql, [jti.as_str()], |_| Ok(()))?.is_some() {
                return Ok(true);
            }
            let Some(family_id) = family_id else { return Ok(false) };
            let sql = "SELECT revoked_at FROM refresh_families WHERE family_id = ?1";
            let family = optional(connection, sql, [family_id.as_str()], |row| opt_ts(row, "revoked_at"))?;
            Ok(match family {
                None => true,
                Some(revoked_at) => revoked_at.is_some(),
            })
        })
    }
}
