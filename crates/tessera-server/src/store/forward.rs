//! [`Store`]'s methods, each written once as a dispatch to the backend that holds the data.
//! The backends' own methods carry the documentation of what each one guarantees.

use super::{
    AuthorizationCodeRow, Backend, ClientRow, CodeSignInRow, ConsentRow, CountedTable, FamilySignInRow, Inner,
    PersonalAccessTokenRow, Refresh, Refreshed, SigningKeyRow, Store, StoreResult, UserRow,
};
use super::{Reservation, SignInWindow};
use std::time::Duration;
use tessera_core::{
    ClientId, Family, FamilyId, Jti, RevocationReason, StoredRefreshToken, Timestamp, TokenHash, UserId,
};

/// `pub async fn name(&self, arg: Type, …) -> Output;` becomes a method of [`Store`] that
/// awaits the same method of whichever backend the store is.
macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $out:ty;)*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $out {
                    match &self.inner {
                        Inner::Sqlite(store) => store.$name($($arg),*).await,
                        Inner::Postgres(store) => store.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

impl Store {
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Sqlite(store) => store.backend(),
            Inner::Postgres(store) => store.backend(),
        }
    }

    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(store) => store.close().await,
            Inner::Postgres(store) => store.close().await,
        }
    }

    /// The SQLite writer's counters; `None` on PostgreSQL and in-memory SQLite.
    pub fn writer_stats(&self) -> Option<super::WriterStats> {
        match &self.inner {
            Inner::Sqlite(store) => Some(store.writer_stats()),
            Inner::Postgres(_) => None,
        }
    }

    /// The connections open and in use now (cheap: no query).
    pub fn pool_stats(&self) -> super::PoolStats {
        match &self.inner {
            Inner::Sqlite(store) => store.pool_stats(),
            Inner::Postgres(store) => store.pool_stats(),
        }
    }

    /// Tests: the SQLite writer, to hold its groups or fail a commit (`None` on PostgreSQL
    /// and in-memory SQLite).
    #[cfg(feature = "fault-injection")]
    pub fn sqlite_writer_hooks(&self) -> Option<crate::store::SqliteWriterHooks<'_>> {
        match &self.inner {
            Inner::Sqlite(store) => Some(crate::store::SqliteWriterHooks(store)),
            Inner::Postgres(_) => None,
        }
    }
}

forward! {
    /// Applies pending migrations, once even when several processes start together.
    fn migrate(&self) -> StoreResult<()>;
    fn ping(&self) -> StoreResult<()>;

    fn insert_client(&self, client: &ClientRow) -> StoreResult<()>;
    fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRow>>;
    fn list_clients(&self) -> StoreResult<Vec<ClientRow>>;
    /// Replaces a client's name, redirect URIs, grants, scope and introspection access; false
    /// if there is no such client.
    fn update_client(&self, client: &ClientRow) -> StoreResult<bool>;
    /// Deletes a client and, by cascade, every token family issued to it.
    fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool>;
    fn set_client_secret(&self, client_id: &ClientId, secret_hash: &TokenHash) -> StoreResult<bool>;

    fn insert_user(&self, user: &UserRow) -> StoreResult<()>;
    fn get_user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>>;
    fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRow>>;

    /// Starts a family, with its first refresh token if the client may refresh, atomically.
    fn create_family(&self, family: &Family, first_token: Option<(&TokenHash, Timestamp)>) -> StoreResult<()>;
    /// A presented refresh token's state and its family, in one read.
    fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<(StoredRefreshToken, Family)>>;
    /// A whole refresh: reads the presented token and its family, asks `refresh.decide`, and
    /// applies a rotation by compare-and-set (the token marked used, its successor inserted,
    /// the family's oldest spent tokens pruned), atomically: of any number of concurrent
    /// refreshes of one token exactly one rotates; the others are decided again on what it
    /// wrote (a grace-window replay, or reuse).
    fn refresh(&self, refresh: Refresh) -> StoreResult<Refreshed>;
    /// The family that holds any of `hashes`, if one does (for reuse of a pruned token).
    fn find_family_of_tokens(&self, hashes: &[TokenHash]) -> StoreResult<Option<Family>>;
    /// Returns false if the family was already revoked or does not exist.
    fn revoke_family(&self, family_id: &FamilyId, now: Timestamp, reason: RevocationReason) -> StoreResult<bool>;
    fn get_family(&self, family_id: &FamilyId) -> StoreResult<Option<Family>>;
    /// Revokes every live family and personal access token of a user (disabling them): how
    /// many families and how many tokens.
    fn revoke_user_grants(&self, user_id: &UserId, now: Timestamp) -> StoreResult<(u64, u64)>;

    fn insert_personal_access_token(&self, pat: &PersonalAccessTokenRow) -> StoreResult<()>;
    fn find_personal_access_token(&self, hash: &TokenHash) -> StoreResult<Option<PersonalAccessTokenRow>>;
    /// Every personal access token, or one user's, oldest first.
    fn list_personal_access_tokens(&self, username: Option<&str>) -> StoreResult<Vec<PersonalAccessTokenRow>>;
    /// Returns false if no such token exists or it was already revoked.
    fn revoke_personal_access_token(&self, pat_id: &str, now: Timestamp) -> StoreResult<bool>;

    fn insert_authorization_code(&self, code: &AuthorizationCodeRow) -> StoreResult<()>;
    fn find_authorization_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCodeRow>>;
    /// Redeems a code (compare-and-set) and starts the family it grants, atomically; false,
    /// changing nothing, if the code was already used.
    fn redeem_authorization_code(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<bool>;
    fn insert_browser_session(
        &self,
        hash: &TokenHash,
        user_id: &UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The user of a live browser session.
    fn find_browser_session(&self, hash: &TokenHash, now: Timestamp) -> StoreResult<Option<UserRow>>;

    /// Counts one sign-in attempt against `counter` unless its open window holds `limit`
    /// already, atomically: concurrent reservations never count past the limit.
    fn reserve_sign_in_attempt(
        &self,
        counter: &str,
        now: Timestamp,
        window_opened_after: Timestamp,
        limit: i64,
    ) -> StoreResult<Reservation>;
    /// The open window of a sign-in counter, if any.
    fn sign_in_attempts(&self, counter: &str, window_opened_after: Timestamp) -> StoreResult<Option<SignInWindow>>;
    /// Gives one reserved attempt back to the open window.
    fn release_sign_in_attempt(&self, counter: &str, window_opened_after: Timestamp) -> StoreResult<()>;
    fn clear_sign_in_attempts(&self, counter: &str) -> StoreResult<()>;

    fn revoke_access_token(&self, jti: &Jti, expires_at: Timestamp) -> StoreResult<()>;
    /// Whether an access token may still be honoured (its family exists and is not revoked,
    /// its `jti` was not revoked on its own).
    fn access_token_revoked(&self, family_id: Option<&FamilyId>, jti: &Jti) -> StoreResult<bool>;

    fn insert_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()>;
    /// Retires every active key except `keep`; returns how many were retired.
    fn retire_signing_keys_except(&self, keep: &str, now: Timestamp) -> StoreResult<u64>;
    /// All keys, newest first.
    fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>>;
    fn find_signing_key(&self, kid: &str) -> StoreResult<Option<SigningKeyRow>>;
    /// Revokes (and retires) `kid` unless it is the only active key, atomically; false,
    /// changing nothing, if there is no such key, it is already revoked, or it is the only
    /// active one.
    fn revoke_signing_key(&self, kid: &str, now: Timestamp) -> StoreResult<bool>;

    /// Deletes at most `batch` rows of each kind that no rule needs any more; returns how many.
    fn purge_expired(&self, now: Timestamp, access_ttl: Duration, batch: i64) -> StoreResult<u64>;
    /// Row counts, for tests and `/metrics`.
    fn count_rows(&self, table: CountedTable) -> StoreResult<i64>;
}

// OpenID Connect (store/{sqlite,postgres}/oidc.rs).
forward! {
    /// Writes a user's changeable fields (email, name, email_verified, is_admin, disabled,
    /// updated_at); false if there is no such user.
    fn update_user(&self, user: &UserRow) -> StoreResult<bool>;
    /// Where a client may send the browser after logout; `None` if there is no such client.
    fn client_post_logout_redirect_uris(&self, client_id: &ClientId) -> StoreResult<Option<Vec<String>>>;
    fn set_client_post_logout_redirect_uris(&self, client_id: &ClientId, uris: &[String]) -> StoreResult<bool>;

    fn find_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Option<ConsentRow>>;
    /// Inserts or replaces the consent of `consent.user_id` for `consent.client_id`.
    fn remember_consent(&self, consent: &ConsentRow) -> StoreResult<()>;
    /// A user's remembered consents, oldest first, with the clients' names.
    fn list_consents(&self, user_id: &UserId) -> StoreResult<Vec<ConsentRow>>;
    /// Forgets a consent; false if there was none.
    fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<bool>;
    /// The unrevoked families that began at the consent page for this user and client.
    fn consented_families(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Vec<FamilyId>>;

    fn insert_code_sign_in(&self, code_hash: &TokenHash, sign_in: &CodeSignInRow) -> StoreResult<()>;
    fn find_code_sign_in(&self, code_hash: &TokenHash) -> StoreResult<Option<CodeSignInRow>>;
    fn insert_family_sign_in(&self, sign_in: &FamilySignInRow) -> StoreResult<()>;
    fn find_family_sign_in(&self, family_id: &FamilyId) -> StoreResult<Option<FamilySignInRow>>;

    /// When a live browser session signed in (its `auth_time`).
    fn browser_session_started(&self, hash: &TokenHash, now: Timestamp) -> StoreResult<Option<Timestamp>>;
    /// Ends a browser session (logout); false if there was none.
    fn delete_browser_session(&self, hash: &TokenHash) -> StoreResult<bool>;
}

// The device authorization grant (store/{sqlite,postgres}/device.rs).
forward! {
    /// Conflict if the user code's hash is taken (the caller draws another).
    fn insert_device_code(&self, code: &super::DeviceCodeRow) -> StoreResult<()>;
    fn find_device_code(&self, device_code_hash: &TokenHash) -> StoreResult<Option<super::DeviceCodeRow>>;
    fn find_device_code_by_user_code(&self, user_code_hash: &TokenHash) -> StoreResult<Option<super::DeviceCodeRow>>;
    /// Approves or denies a pending, unexpired code (compare-and-set); false, changing nothing,
    /// if it was decided already, expired or does not exist.
    fn decide_device_code(
        &self,
        user_code_hash: &TokenHash,
        now: Timestamp,
        decision: &super::DeviceDecision,
    ) -> StoreResult<bool>;
    /// Remembers a poll and the interval the client must keep from now on.
    fn record_device_poll(&self, device_code_hash: &TokenHash, now: Timestamp, interval: Duration) -> StoreResult<()>;
    /// Redeems an approved, unexpired code (compare-and-set) and starts the family it grants,
    /// atomically; false, changing nothing, if it was redeemed already or is not redeemable.
    fn redeem_device_code(
        &self,
        device_code_hash: &TokenHash,
        now: Timestamp,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<bool>;
    /// Wrong user codes counted against `subject` in the window that is still open.
    fn device_code_failures(&self, subject: &str, window_opened_after: Timestamp) -> StoreResult<i64>;
    /// Counts one wrong user code in one atomic upsert.
    fn record_device_code_failure(&self, subject: &str, now: Timestamp, window_opened_after: Timestamp) -> StoreResult<()>;
}

// Browser apps (store/{sqlite,postgres}/tables.rs).
forward! {
    /// Every web origin any client registered (`clients.allowed_origins`): the CORS allow-list.
    fn allowed_origins(&self) -> StoreResult<Vec<tessera_core::Origin>>;
}

// DPoP (store/{sqlite,postgres}/dpop.rs).
forward! {
    /// Remembers a DPoP proof until `expires_at`; whether it is new (the replay check).
    fn remember_dpop_proof(&self, proof: &TokenHash, expires_at: Timestamp, now: Timestamp) -> StoreResult<bool>;
}

// The audit log (store/{sqlite,postgres}/audit.rs).
forward! {
    /// Appends one event to the audit log.
    fn insert_audit(&self, entry: &super::audit::AuditRow) -> StoreResult<()>;
    /// The events `query` selects, newest first.
    fn list_audit(&self, query: &super::audit::AuditQuery) -> StoreResult<Vec<super::audit::AuditRow>>;
    /// Deletes up to `batch` of the oldest events from before `before`; how many went.
    fn purge_audit(&self, before: Timestamp, batch: i64) -> StoreResult<u64>;
}

// The account page (store/{sqlite,postgres}/account.rs).
forward! {
    /// A user's live (unrevoked, unexpired) families with their clients' names, oldest first.
    fn user_families(&self, user_id: &UserId, now: Timestamp) -> StoreResult<Vec<super::account::UserFamilyRow>>;
    /// Replaces a user's password hash; false if there is no such user.
    fn set_user_password(&self, user_id: &UserId, password_hash: &str) -> StoreResult<bool>;
    /// Ends every browser session of a user except `except` (the one in use); how many ended.
    fn end_user_browser_sessions(&self, user_id: &UserId, except: Option<&TokenHash>) -> StoreResult<u64>;
}

// The console's overview (store/{sqlite,postgres}/counts.rs).
forward! {
    /// Clients, users, live refresh-token families and active personal access tokens at `now`.
    fn console_counts(&self, now: Timestamp) -> StoreResult<super::counts::ConsoleCounts>;
}

// The console's clients, users and sessions pages (store/{sqlite,postgres}/console.rs).
forward! {
    /// Users whose username, email or name contain `search` (case-insensitive), by username.
    fn list_users(&self, search: Option<&str>, paging: super::console::Paging) -> StoreResult<Vec<UserRow>>;
    /// Live refresh-token families (not revoked, not expired) of `owner`, newest first.
    fn list_live_families(
        &self,
        owner: super::console::Owner<'_>,
        now: Timestamp,
        paging: super::console::Paging,
    ) -> StoreResult<Vec<super::console::LiveFamilyRow>>;
    /// How many live families `owner` has.
    fn count_live_families(&self, owner: super::console::Owner<'_>, now: Timestamp) -> StoreResult<i64>;
    /// Live browser sessions (of one user, or everyone's), newest first.
    fn list_browser_sessions(
        &self,
        owner: super::console::Owner<'_>,
        now: Timestamp,
        paging: super::console::Paging,
    ) -> StoreResult<Vec<super::console::BrowserSessionRow>>;
    /// Replaces a user's password hash (and stamps `updated_at`); false if there is no such user.
    fn set_user_password_hash(&self, user_id: &UserId, password_hash: &str, now: Timestamp) -> StoreResult<bool>;
    /// Writes a user's changeable fields as `update_user` does, unless that would leave no
    /// enabled admin: the check and the write are one atomic operation on both backends.
    fn update_user_keeping_an_admin(&self, user: &UserRow) -> StoreResult<super::console::GuardedUpdate>;
    /// Forgets every sign-in counter of `username` (from everywhere and from each address): how many.
    fn clear_sign_in_throttle(&self, username: &str) -> StoreResult<u64>;
}
