//! The application layer: grants, bearer checks, revocation and introspection. It glues the
//! core's decisions to the store and the keys; it knows nothing of HTTP.

pub mod authorization;
pub mod pages;

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{KeyError, KeyManager, VerifyError};
use crate::passwords;
use crate::random::{RandomError, random_bytes};
use crate::store::{ClientRow, PersonalAccessTokenRow, RotateOutcome, Store, StoreError, UserRow};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_core::lifecycle::decide_refresh;
use tessera_core::{
    ClientCredentials, Family, Password, PersonalAccessToken, RefreshDecision, RefreshRejection, RefreshToken, Scope,
    SuccessorKey, Timestamp, TokenHash,
};
use tessera_proto::{AccessTokenClaims, ErrorCode, IntrospectionResponse};

/// Something went wrong that is not the caller's fault. Logged once; answered with an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("password hashing task failed")]
    PasswordTask,
    #[error("refresh kept losing the rotation race; giving up")]
    RotationContention,
}

/// The outcome of a request that failed: either the client's mistake (an RFC error code and
/// a description safe to show) or ours.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{code}: {description}")]
    OAuth { code: ErrorCode, description: String },
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl ServiceError {
    pub fn oauth(code: ErrorCode, description: impl Into<String>) -> Self {
        ServiceError::OAuth { code, description: description.into() }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<KeyError> for ServiceError {
    fn from(error: KeyError) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<RandomError> for ServiceError {
    fn from(error: RandomError) -> Self {
        ServiceError::Internal(error.into())
    }
}

/// Tokens to hand back from the token endpoint.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<RefreshToken>,
    pub scope: Scope,
}

/// Why a bearer token is refused (RFC 6750 §3.1 `invalid_token`). The detail is logged at
/// debug level, never sent.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// Remembers, for a short time, that an access token's family and `jti` were not revoked, so
/// that most bearer checks need no database round trip. The bound: a family revoked through
/// another instance is honoured here at most `ttl` later; through this instance, at once.
struct RevocationCache {
    ttl: Duration,
    /// jti → (family id, when the database said "not revoked").
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl RevocationCache {
    const MAX_ENTRIES: usize = 10_000;

    fn fresh(&self, jti: &str) -> bool {
        let Ok(entries) = self.entries.lock() else { return false };
        entries.get(jti).is_some_and(|(_, checked)| checked.elapsed() < self.ttl)
    }

    fn remember(&self, jti: &str, family_id: Option<&str>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_ENTRIES {
                let ttl = self.ttl;
                entries.retain(|_, (_, checked)| checked.elapsed() < ttl);
                if entries.len() >= Self::MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(jti.to_owned(), (family_id.map(str::to_owned), Instant::now()));
        }
    }

    fn forget_family(&self, family_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (family, _)| family.as_deref() != Some(family_id));
        }
    }

    fn forget_token(&self, jti: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(jti);
        }
    }
}

pub struct AuthService {
    pub store: Store,
    pub keys: Arc<KeyManager>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    pub issuer: String,
    successor_key: SuccessorKey,
    csrf_key: ring::hmac::Key,
    revocations: RevocationCache,
    last_key_reload: Mutex<Option<Instant>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Argon2 costs ~19 MiB and tens of milliseconds of CPU per check, and the password grant
    /// and the login page are open to anyone who knows a public client id: at most one check
    /// per CPU runs at a time; the others wait their turn instead of exhausting memory.
    password_checks: tokio::sync::Semaphore,
}

/// Failed password checks per username that are tolerated within [`LOGIN_FAILURE_WINDOW`].
pub const LOGIN_FAILURE_LIMIT: i64 = 10;
/// The throttling window: after the limit, the username is refused until its window ends.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The outcome of a username and password check.
pub enum PasswordCheck {
    Correct(UserRow),
    Wrong,
    /// Too many recent failures for this username: not checked at all.
    Throttled,
}

impl PasswordCheck {
    pub const THROTTLED_MESSAGE: &'static str = "too many failed sign-ins for this user; try again in 15 minutes";
}

/// How often an unknown `kid` may make an instance re-read the key ring: bounds the database
/// load that a stream of forged tokens with random `kid`s can cause.
pub const KEY_RELOAD_BACKOFF: Duration = Duration::from_secs(5);

impl AuthService {
    pub fn new(
        store: Store,
        keys: Arc<KeyManager>,
        clock: Arc<dyn Clock>,
        config: Config,
        issuer: String,
        master_key: &tessera_core::MasterKey,
    ) -> Self {
        let revocations = RevocationCache { ttl: config.revocation_cache_ttl, entries: Mutex::new(HashMap::new()) };
        AuthService {
            store,
            keys,
            clock,
            config,
            issuer,
            successor_key: master_key.successor_key(),
            csrf_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, master_key.browser_csrf_key()),
            revocations,
            last_key_reload: Mutex::new(None),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(2),
            ),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ---- clients ----------------------------------------------------------------------

    /// RFC 6749 §2.3: checks the presented credentials against the registered client.
    /// Every failure is `invalid_client`, with one message, so ids cannot be probed.
    pub async fn authenticate_client(&self, credentials: &ClientCredentials) -> Result<ClientRow, ServiceError> {
        let failed = || ServiceError::oauth(ErrorCode::InvalidClient, "client authentication failed");
        let client = self.store.get_client(credentials.client_id()).await?.ok_or_else(failed)?;
        match (&client.secret_hash, credentials.secret()) {
            (Some(stored), Some(presented)) if presented.matches(stored) => Ok(client),
            (None, None) => Ok(client),
            _ => Err(failed()),
        }
    }

    pub(crate) fn require_grant(client: &ClientRow, grant_type: &str) -> Result<(), ServiceError> {
        if client.allows_grant(grant_type) {
            Ok(())
        } else {
            Err(ServiceError::oauth(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {grant_type} grant"),
            ))
        }
    }

    /// The scope a first grant receives: what was asked for, which must be within what the
    /// client may ask for; everything the client may ask for if nothing was asked.
    fn grant_scope(client: &ClientRow, requested: Option<&Scope>) -> Result<Scope, ServiceError> {
        Scope::grant(requested, &client.scope).ok_or_else(|| {
            ServiceError::oauth(ErrorCode::InvalidScope, "the requested scope exceeds what this client may ask for")
        })
    }

    // ---- grants -----------------------------------------------------------------------

    /// RFC 6749 §4.3, the resource owner password credentials grant.
    pub async fn password_grant(
        &self,
        client: &ClientRow,
        username: &str,
        password: Password,
        requested_scope: Option<&Scope>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, "password")?;
        let scope = Self::grant_scope(client, requested_scope)?;
        let user = match self.check_password(username, password).await? {
            PasswordCheck::Correct(user) => user,
            PasswordCheck::Wrong => {
                return Err(ServiceError::oauth(ErrorCode::InvalidGrant, "the username or password is incorrect"));
            }
            PasswordCheck::Throttled => {
                return Err(ServiceError::oauth(ErrorCode::InvalidGrant, PasswordCheck::THROTTLED_MESSAGE));
            }
        };
        self.start_grant(client, &user.user_id, scope).await
    }

    /// Checks a username and password. Unknown usernames are checked against a dummy hash, so
    /// they cost the same time as wrong passwords; Argon2 runs off the async threads. After
    /// [`LOGIN_FAILURE_LIMIT`] failures in [`LOGIN_FAILURE_WINDOW`], the username is refused
    /// without a check until the window ends (counted in the database: all instances agree).
    pub(crate) async fn check_password(
        &self,
        username: &str,
        password: Password,
    ) -> Result<PasswordCheck, ServiceError> {
        let now = self.now();
        let window_opened_after = now.minus(LOGIN_FAILURE_WINDOW);
        // Counters are keyed by at most 200 characters: usernames are no longer than that.
        let key: String = username.chars().take(200).collect();
        if self.store.login_failures(&key, window_opened_after).await? >= LOGIN_FAILURE_LIMIT {
            return Ok(PasswordCheck::Throttled);
        }
        let user = self.store.get_user_by_username(username).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
        let _permit = self.password_checks.acquire().await.map_err(|_| InternalError::PasswordTask)?;
        let verified =
            tokio::task::spawn_blocking(move || passwords::verify_password(&password, stored_hash.as_deref()))
                .await
                .map_err(|_| InternalError::PasswordTask)?;
        match user.filter(|_| verified) {
            Some(user) => {
                self.store.clear_login_failures(&key).await?;
                Ok(PasswordCheck::Correct(user))
            }
            None => {
                self.store.record_login_failure(&key, now, window_opened_after).await?;
                Ok(PasswordCheck::Wrong)
            }
        }
    }

    /// RFC 6749 §4.4: the client acts for itself. Confidential clients only (§4.4: "MUST only
    /// be used by confidential clients"); no refresh token (§4.4.3).
    pub async fn client_credentials_grant(
        &self,
        client: &ClientRow,
        requested_scope: Option<&Scope>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, "client_credentials")?;
        if client.is_public() {
            return Err(ServiceError::oauth(
                ErrorCode::UnauthorizedClient,
                "public clients may not use the client_credentials grant",
            ));
        }
        let scope = Self::grant_scope(client, requested_scope)?;
        let access_token = self.mint_access_token(&client.client_id, &client.client_id, &scope, None, self.now())?;
        Ok(Issued { access_token, expires_in: self.expires_in(), refresh_token: None, scope })
    }

    /// Issues the first tokens of a grant: an access token and, if the client may refresh,
    /// the first refresh token of a new family.
    pub async fn start_grant(&self, client: &ClientRow, user_id: &str, scope: Scope) -> Result<Issued, ServiceError> {
        let now = self.now();
        if !client.allows_grant("refresh_token") {
            let access_token = self.mint_access_token(client.client_id.as_str(), user_id, &scope, None, now)?;
            return Ok(Issued { access_token, expires_in: self.expires_in(), refresh_token: None, scope });
        }
        let (family, refresh_token) = self.new_family(client, user_id, scope, now)?;
        let first = refresh_token.as_ref().map(|token| (token.hash(), self.config.refresh.idle_expiry(now, &family)));
        self.store.create_family(&family, first.as_ref().map(|(hash, expiry)| (hash, *expiry))).await?;
        self.first_tokens(family, refresh_token, now)
    }

    /// A new family for a grant, with its first refresh token if the client may refresh.
    pub(crate) fn new_family(
        &self,
        client: &ClientRow,
        user_id: &str,
        scope: Scope,
        now: Timestamp,
    ) -> Result<(Family, Option<RefreshToken>), ServiceError> {
        let family = Family {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: client.client_id.clone(),
            user_id: user_id.to_owned(),
            scope,
            created_at: now,
            expires_at: self.config.refresh.family_expiry(now),
            revoked_at: None,
        };
        let refresh_token = if client.allows_grant("refresh_token") {
            Some(RefreshToken::from_random(&random_bytes::<32>()?))
        } else {
            None
        };
        Ok((family, refresh_token))
    }

    /// The token response of a family's first grant (stored by the caller).
    pub(crate) fn first_tokens(
        &self,
        family: Family,
        refresh_token: Option<RefreshToken>,
        now: Timestamp,
    ) -> Result<Issued, ServiceError> {
        let access_token =
            self.mint_access_token(&family.client_id, &family.user_id, &family.scope, Some(&family.id), now)?;
        Ok(Issued { access_token, expires_in: self.expires_in(), refresh_token, scope: family.scope })
    }

    /// RFC 6749 §6 with rotation, grace window and reuse detection (DESIGN.md §4).
    pub async fn refresh_grant(
        &self,
        client: &ClientRow,
        presented: &RefreshToken,
        requested_scope: Option<&Scope>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, "refresh_token")?;
        let presented_hash = presented.hash();
        // A lost compare-and-set means another request rotated this token between our read and
        // our write; reading again turns it into a grace-window replay. Two rounds suffice in
        // practice; the bound only stops a pathological loop.
        for _ in 0..5 {
            let now = self.now();
            let found = match self.store.find_refresh_token(&presented_hash).await {
                Err(error) if error.is_transient() => continue,
                other => other?,
            };
            let (token, family) = match &found {
                Some((token, family)) => (Some(token), Some(family)),
                None => (None, None),
            };
            let decision = decide_refresh(&self.config.refresh, now, token, family, &client.client_id, requested_scope);
            let rejection = match decision {
                RefreshDecision::Rotate { successor_idle_expires_at, access_scope } => {
                    let Some(family) = family else { return Err(Self::refresh_error(RefreshRejection::UnknownToken)) };
                    let successor = presented.successor(&self.successor_key);
                    let outcome = self
                        .store
                        .rotate_refresh_token(
                            &presented_hash,
                            &successor.hash(),
                            &family.id,
                            now,
                            successor_idle_expires_at,
                        )
                        .await;
                    match outcome {
                        Ok(RotateOutcome::Rotated) => {
                            self.metrics.incr("tessera_refresh_decisions_total", &[("decision", "rotated")]);
                            return self.reissue(family, successor, access_scope, now);
                        }
                        // Lost the compare-and-set, or PostgreSQL asked for a retry (serialization
                        // failure, deadlock): the transaction rolled back, so read again and re-decide.
                        Ok(RotateOutcome::LostRace) => continue,
                        Err(error) if error.is_transient() => continue,
                        Err(error) => return Err(error.into()),
                    }
                }
                RefreshDecision::Replay { access_scope } => {
                    let Some(family) = family else { return Err(Self::refresh_error(RefreshRejection::UnknownToken)) };
                    let successor = presented.successor(&self.successor_key);
                    self.metrics.incr("tessera_refresh_decisions_total", &[("decision", "replayed")]);
                    return self.reissue(family, successor, access_scope, now);
                }
                RefreshDecision::Reject(rejection) => {
                    self.metrics.incr("tessera_refresh_decisions_total", &[("decision", "rejected")]);
                    rejection
                }
                RefreshDecision::RevokeFamily => {
                    self.metrics.incr("tessera_refresh_decisions_total", &[("decision", "reuse_detected")]);
                    if let Some(family) = family {
                        self.revoke_family(family, "refresh token reuse detected").await?;
                    }
                    RefreshRejection::Reused
                }
            };
            return Err(Self::refresh_error(rejection));
        }
        Err(InternalError::RotationContention.into())
    }

    fn refresh_error(rejection: RefreshRejection) -> ServiceError {
        let code = match rejection {
            RefreshRejection::WiderScope => ErrorCode::InvalidScope,
            _ => ErrorCode::InvalidGrant,
        };
        ServiceError::oauth(code, rejection.description())
    }

    fn reissue(
        &self,
        family: &Family,
        successor: RefreshToken,
        access_scope: Scope,
        now: Timestamp,
    ) -> Result<Issued, ServiceError> {
        let access_token =
            self.mint_access_token(&family.client_id, &family.user_id, &access_scope, Some(&family.id), now)?;
        Ok(Issued { access_token, expires_in: self.expires_in(), refresh_token: Some(successor), scope: access_scope })
    }

    fn expires_in(&self) -> u64 {
        self.config.access_token_ttl.as_secs()
    }

    fn mint_access_token(
        &self,
        client_id: &str,
        user_id: &str,
        scope: &Scope,
        family_id: Option<&str>,
        now: Timestamp,
    ) -> Result<String, ServiceError> {
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            aud: self.issuer.clone(),
            client_id: client_id.to_owned(),
            scope: scope.to_string(),
            iat: now.secs(),
            exp: now.plus(self.config.access_token_ttl).secs(),
            jti: uuid::Uuid::new_v4().to_string(),
            fid: family_id.map(str::to_owned),
        };
        Ok(self.keys.sign(&claims)?)
    }

    /// Revokes a family and logs the audit event. Idempotent.
    pub(crate) async fn revoke_family(&self, family: &Family, reason: &'static str) -> Result<(), ServiceError> {
        let newly = self.store.revoke_family(&family.id, self.now(), reason).await?;
        self.revocations.forget_family(&family.id);
        if newly {
            self.metrics.incr("tessera_families_revoked_total", &[("reason", reason)]);
            tracing::warn!(
                target: "tessera::audit",
                event = "family_revoked",
                reason,
                client_id = %family.client_id,
                user_id = %family.user_id,
                family_id = %family.id,
                "refresh-token family revoked"
            );
        }
        Ok(())
    }

    // ---- bearer tokens ----------------------------------------------------------------

    /// The protected API accepts two kinds of bearer token: JWT access tokens and personal
    /// access tokens (`tsp_…`). Returns the user id the token acts for.
    pub async fn authenticate_api(&self, token: &str) -> Result<String, BearerError> {
        if token.starts_with(PersonalAccessToken::PREFIX) {
            let result = self.check_personal_access_token(token).await;
            self.count_bearer_check(&result);
            return result.map(|pat| pat.user_id);
        }
        Ok(self.authenticate_bearer(token).await?.sub)
    }

    async fn check_personal_access_token(&self, token: &str) -> Result<PersonalAccessTokenRow, BearerError> {
        let found = self
            .store
            .find_personal_access_token(&TokenHash::of(token))
            .await
            .map_err(InternalError::from)?
            .ok_or(BearerError::Invalid("unknown"))?;
        if found.revoked_at.is_some() {
            return Err(BearerError::Invalid("revoked"));
        }
        if !found.is_active(self.now()) {
            return Err(BearerError::Invalid("expired"));
        }
        Ok(found)
    }

    /// RFC 6750: checks an access token presented to the protected API.
    pub async fn authenticate_bearer(&self, token: &str) -> Result<AccessTokenClaims, BearerError> {
        let result = self.check_bearer(token).await;
        self.count_bearer_check(&result);
        result
    }

    fn count_bearer_check<T>(&self, result: &Result<T, BearerError>) {
        let label = match result {
            Ok(_) => "ok",
            Err(BearerError::Invalid(reason)) => reason,
            Err(BearerError::Internal(_)) => "error",
        };
        self.metrics.incr("tessera_bearer_checks_total", &[("result", label)]);
    }

    async fn check_bearer(&self, token: &str) -> Result<AccessTokenClaims, BearerError> {
        let claims = self.verify_jwt(token).await.map_err(|error| {
            tracing::debug!(%error, "bearer token refused");
            BearerError::Invalid("signature")
        })?;
        self.check_claims(claims).await
    }

    /// Expiry against our clock, then revocation (the family's and the token's own).
    async fn check_claims(&self, claims: AccessTokenClaims) -> Result<AccessTokenClaims, BearerError> {
        if self.now().secs() >= claims.exp {
            return Err(BearerError::Invalid("expired"));
        }
        if !self.revocations.fresh(&claims.jti) {
            let revoked = self
                .store
                .access_token_revoked(claims.fid.as_deref(), &claims.jti)
                .await
                .map_err(InternalError::from)?;
            if revoked {
                return Err(BearerError::Invalid("revoked"));
            }
            self.revocations.remember(&claims.jti, claims.fid.as_deref());
        }
        Ok(claims)
    }

    /// Verifies a JWT; a `kid` this instance has not loaded yet (another instance or the CLI
    /// rotated keys) triggers one reload of the key ring, at most once per [`KEY_RELOAD_BACKOFF`].
    async fn verify_jwt(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        match self.keys.verify(token) {
            Err(VerifyError::UnknownKey) if self.may_reload_keys() => {
                if let Err(error) = self.keys.reload().await {
                    tracing::warn!(%error, "could not reload signing keys");
                }
                self.keys.verify(token)
            }
            other => other,
        }
    }

    fn may_reload_keys(&self) -> bool {
        let Ok(mut last) = self.last_key_reload.lock() else { return false };
        if last.is_some_and(|at| at.elapsed() < KEY_RELOAD_BACKOFF) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    // ---- RFC 7009 revocation ----------------------------------------------------------

    /// Revokes `token` if it belongs to `client`. Unknown tokens, and tokens of other
    /// clients, change nothing and are not reported (RFC 7009 §2.2).
    pub async fn revoke(&self, client: &ClientRow, token: &str, hint: Option<&str>) -> Result<(), ServiceError> {
        let refresh_first = hint != Some("access_token");
        for attempt_refresh in [refresh_first, !refresh_first] {
            let done = if attempt_refresh {
                self.revoke_refresh_token(client, token).await?
            } else {
                self.revoke_access_token(client, token).await?
            };
            if done {
                break;
            }
        }
        Ok(())
    }

    async fn revoke_refresh_token(&self, client: &ClientRow, token: &str) -> Result<bool, ServiceError> {
        let hash = TokenHash::of(token);
        let Some((_, family)) = self.store.find_refresh_token(&hash).await? else { return Ok(false) };
        if family.client_id == client.client_id {
            self.revoke_family(&family, "revoked by the client").await?;
        }
        Ok(true)
    }

    async fn revoke_access_token(&self, client: &ClientRow, token: &str) -> Result<bool, ServiceError> {
        let Ok(claims) = self.verify_jwt(token).await else { return Ok(false) };
        if claims.client_id == client.client_id {
            self.store.revoke_access_token(&claims.jti, Timestamp::from_secs(claims.exp)).await?;
            self.revocations.forget_token(&claims.jti);
        }
        Ok(true)
    }

    // ---- RFC 7662 introspection -------------------------------------------------------

    pub async fn introspect(&self, token: &str, hint: Option<&str>) -> Result<IntrospectionResponse, ServiceError> {
        if token.starts_with(PersonalAccessToken::PREFIX) {
            return match self.check_personal_access_token(token).await {
                Ok(pat) => Ok(IntrospectionResponse {
                    active: true,
                    scope: Some(pat.scope.to_string()),
                    client_id: None,
                    username: Some(pat.username),
                    token_type: Some("personal_access_token".into()),
                    exp: pat.expires_at.map(Timestamp::secs),
                    iat: Some(pat.created_at.secs()),
                    sub: Some(pat.user_id),
                    iss: Some(self.issuer.clone()),
                }),
                Err(BearerError::Invalid(_)) => Ok(IntrospectionResponse::default()),
                Err(BearerError::Internal(error)) => Err(error.into()),
            };
        }
        let refresh_first = hint == Some("refresh_token") || token.starts_with(RefreshToken::PREFIX);
        for attempt_refresh in [refresh_first, !refresh_first] {
            let found = if attempt_refresh {
                self.introspect_refresh_token(token).await?
            } else {
                self.introspect_access_token(token).await?
            };
            if let Some(response) = found {
                return Ok(response);
            }
        }
        Ok(IntrospectionResponse::default())
    }

    async fn username(&self, user_id: &str) -> Result<Option<String>, ServiceError> {
        Ok(self.store.get_user(user_id).await?.map(|user| user.username))
    }

    async fn introspect_refresh_token(&self, token: &str) -> Result<Option<IntrospectionResponse>, ServiceError> {
        let Some((stored, family)) = self.store.find_refresh_token(&TokenHash::of(token)).await? else {
            return Ok(None);
        };
        let now = self.now();
        let active = family.revoked_at.is_none()
            && stored.used_at.is_none()
            && now < stored.idle_expires_at
            && now < family.expires_at;
        if !active {
            return Ok(Some(IntrospectionResponse::default()));
        }
        Ok(Some(IntrospectionResponse {
            active: true,
            scope: Some(family.scope.to_string()),
            client_id: Some(family.client_id.clone()),
            username: self.username(&family.user_id).await?,
            token_type: Some("refresh_token".into()),
            exp: Some(stored.idle_expires_at.min(family.expires_at).secs()),
            iat: Some(stored.created_at.secs()),
            sub: Some(family.user_id.clone()),
            iss: Some(self.issuer.clone()),
        }))
    }

    async fn introspect_access_token(&self, token: &str) -> Result<Option<IntrospectionResponse>, ServiceError> {
        let Ok(claims) = self.verify_jwt(token).await else { return Ok(None) };
        let claims = match self.check_claims(claims).await {
            Ok(claims) => claims,
            Err(BearerError::Invalid(_)) => return Ok(Some(IntrospectionResponse::default())),
            Err(BearerError::Internal(error)) => return Err(error.into()),
        };
        Ok(Some(IntrospectionResponse {
            active: true,
            scope: Some(claims.scope.clone()),
            client_id: Some(claims.client_id.clone()),
            username: self.username(&claims.sub).await?,
            token_type: Some("Bearer".into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub.clone()),
            iss: Some(claims.iss.clone()),
        }))
    }
}
