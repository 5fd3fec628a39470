//! The authorization-code grant (RFC 6749 §4.1, RFC 7636): browser sign-in sessions,
//! consent, codes, and their redemption at the token endpoint (decided by core's
//! `decide_code_redemption`, applied here by compare-and-set).

use super::id_tokens::Authentication;
use super::{AuthService, Issued, PasswordCheck, ServiceError};
use crate::random::random_bytes;
use crate::store::{AuthorizationCodeRow, ClientRow, CodeSignInRow, UserRow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::code::{CodeDecision, CodeRedemption, CodeRejection, decide_code_redemption};
use tessera_core::{GrantType, Password, RevocationReason, Scope, Timestamp, TokenHash};
use tessera_proto::ErrorCode;

/// How long a code may wait for its token request (RFC 6749 §4.1.2: "a maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; one minute is plenty).
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a browser stays signed in at the authorization endpoint.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The outcome of the login form.
pub enum SignIn {
    /// The session cookie's value, the user, and when they signed in.
    SignedIn { session: String, user: UserRow, auth_time: Timestamp },
    /// Not signed in; the message is safe to show.
    Refused(&'static str),
    /// Not checked: too many attempts for this username; the window ends in `retry_after`.
    Throttled { retry_after: Duration },
    /// Not checked: too many password checks are waiting on this instance.
    Busy,
}

fn random_token() -> Result<String, ServiceError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

impl AuthService {
    /// Checks a username and password typed into the login page by a browser at `address`;
    /// on success opens a browser session and returns its cookie value.
    pub async fn sign_in(&self, username: &str, password: Password, address: IpAddr) -> Result<SignIn, ServiceError> {
        let user = match self.check_password(username, password, address).await? {
            PasswordCheck::Correct(user) => user,
            PasswordCheck::Wrong => {
                self.metrics.failed_sign_in();
                return Ok(SignIn::Refused("The username or password is incorrect."));
            }
            PasswordCheck::Throttled { retry_after } => return Ok(SignIn::Throttled { retry_after }),
            PasswordCheck::Busy => return Ok(SignIn::Busy),
        };
        if user.disabled {
            return Ok(SignIn::Refused("This account is disabled."));
        }
        let session = random_token()?;
        let now = self.now();
        self.store.insert_browser_session(&TokenHash::of(&session), &user.user_id, now, now.plus(SESSION_TTL)).await?;
        Ok(SignIn::SignedIn { session, user, auth_time: now })
    }

    /// The signed-in user of a browser session cookie, if it is still valid (and the user
    /// not disabled), with the time they signed in (OpenID Connect `auth_time`).
    pub async fn session_user(&self, session: &str) -> Result<Option<(UserRow, Timestamp)>, ServiceError> {
        let hash = TokenHash::of(session);
        let now = self.now();
        let Some(user) = self.store.find_browser_session(&hash, now).await? else { return Ok(None) };
        if user.disabled {
            return Ok(None);
        }
        let auth_time = self.store.browser_session_started(&hash, now).await?.unwrap_or(now);
        Ok(Some((user, auth_time)))
    }

    /// Where a client may send the browser after logout; `None` if there is no such client.
    pub async fn post_logout_redirect_uris(
        &self,
        client_id: &tessera_core::ClientId,
    ) -> Result<Option<Vec<String>>, ServiceError> {
        Ok(self.store.client_post_logout_redirect_uris(client_id).await?)
    }

    /// Logout (RP-Initiated Logout 1.0 §2): the browser session ends.
    pub async fn end_session(&self, session: &str) -> Result<(), ServiceError> {
        self.store.delete_browser_session(&TokenHash::of(session)).await?;
        Ok(())
    }

    /// The anti-CSRF token of the consent form: `HMAC(key, session)`, so it needs no storage
    /// and cannot be produced by a page that does not know the session cookie.
    pub fn csrf_token(&self, session: &str) -> String {
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.csrf_key, session.as_bytes()))
    }

    pub fn csrf_token_matches(&self, session: &str, presented: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(presented) else { return false };
        ring::hmac::verify(&self.csrf_key, session.as_bytes(), &tag).is_ok()
    }

    /// The user approved (or had approved before): mint a one-time code for the request,
    /// remembering how the user signed in (`auth_time` and the session) for the id token.
    pub async fn issue_authorization_code(
        &self,
        request: &AuthorizationRequest,
        user: &UserRow,
        session: &str,
        auth_time: Timestamp,
    ) -> Result<String, ServiceError> {
        let code = random_token()?;
        let now = self.now();
        self.store
            .insert_authorization_code(&AuthorizationCodeRow {
                code_hash: TokenHash::of(&code),
                client_id: request.client_id.clone(),
                user_id: user.user_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                redirect_uri_given: request.redirect_uri_given,
                scope: request.scope.clone(),
                code_challenge: request.code_challenge.clone(),
                dpop_jkt: request.dpop_jkt.clone(),
                created_at: now,
                expires_at: now.plus(CODE_TTL),
                used_at: None,
                family_id: None,
            })
            .await?;
        let sign_in = CodeSignInRow { nonce: request.openid.nonce.clone(), auth_time, sid: self.session_id(session) };
        self.store.insert_code_sign_in(&TokenHash::of(&code), &sign_in).await?;
        Ok(code)
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.6, and RFC 9449 §10: a code bound to a DPoP key
    /// (`dpop_jkt`) needs a proof by it (`dpop`, the key of the request's proof).
    pub async fn authorization_code_grant(
        &self,
        client: &ClientRow,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        dpop: Option<&tessera_core::dpop::Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::AuthorizationCode)?;
        let hash = TokenHash::of(code);
        let Some(stored) = self.store.find_authorization_code(&hash).await? else {
            return Err(CodeRejection::Unknown.into());
        };
        let now = self.now();
        let request = CodeRedemption { client_id: &client.client_id, redirect_uri, code_verifier, dpop_jkt: dpop };
        match decide_code_redemption(now, Some(&stored.issued()), &request) {
            CodeDecision::Redeem => {}
            CodeDecision::Reject(rejection) => return Err(rejection.into()),
            // RFC 6749 §4.1.2: a code used twice revokes what it granted.
            CodeDecision::RevokeFamily => {
                self.revoke_code_family(&stored).await?;
                return Err(CodeRejection::Replayed.into());
            }
        }
        // A client narrowed since the code was issued gets only what it may still ask for.
        let scope = Scope::still_allowed(&stored.scope, &client.scope)
            .ok_or_else(|| ServiceError::oauth(ErrorCode::InvalidScope, "this client may no longer use this scope"))?;
        // Every code grant gets a family, refresh token or not, so that its access tokens
        // carry `fid` and a replayed code can revoke them (RFC 6749 §4.1.2).
        let (family, refresh_token) = self.new_family(client, &stored.user_id, scope, now, dpop)?;
        let first = refresh_token.as_ref().map(|token| (token.hash(), self.config.refresh.idle_expiry(now, &family)));
        let redeemed = self
            .store
            .redeem_authorization_code(&hash, now, &family, first.as_ref().map(|(hash, expiry)| (hash, *expiry)))
            .await?;
        if !redeemed {
            // Lost a race with a concurrent redemption of the same code: that is a replay too,
            // and the winner's family is already in the database.
            if let Some(stored) = self.store.find_authorization_code(&hash).await? {
                self.revoke_code_family(&stored).await?;
            }
            return Err(CodeRejection::Replayed.into());
        }
        let sign_in = self.store.find_code_sign_in(&hash).await?;
        let authentication = Authentication {
            auth_time: sign_in.as_ref().map_or(stored.created_at, |sign_in| sign_in.auth_time),
            nonce: sign_in.as_ref().and_then(|sign_in| sign_in.nonce.clone()),
            sid: sign_in.map(|sign_in| sign_in.sid),
        };
        self.record_family_sign_in(&family, &authentication, true).await?;
        let Some(user) = self.store.get_user(&stored.user_id).await? else {
            return Err(CodeRejection::Unknown.into());
        };
        let client_id = family.client_id.clone();
        let issued = self.first_tokens(family, refresh_token, now, dpop)?;
        self.with_id_token(issued, &client_id, &user, &authentication, now)
    }

    async fn revoke_code_family(&self, code: &AuthorizationCodeRow) -> Result<(), ServiceError> {
        let Some(family_id) = &code.family_id else { return Ok(()) };
        if let Some(family) = self.store.get_family(family_id).await? {
            self.revoke_family(&family, RevocationReason::CodeReplayed).await?;
        }
        Ok(())
    }
}
