//! The authorization-code grant (RFC 6749 §4.1, RFC 7636): browser sign-in sessions,
//! consent, codes, and their redemption at the token endpoint (decided by core's
//! `decide_code_redemption`, applied here by compare-and-set).

use super::{AuthService, Issued, PasswordCheck, ServiceError};
use crate::random::random_bytes;
use crate::store::{AuthorizationCodeRow, ClientRow, UserRow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::code::{CodeDecision, CodeRedemption, CodeRejection, decide_code_redemption};
use tessera_core::{GrantType, Password, RevocationReason, TokenHash};

/// How long a code may wait for its token request (RFC 6749 §4.1.2: "a maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; one minute is plenty).
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a browser stays signed in at the authorization endpoint.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The outcome of the login form.
pub enum SignIn {
    /// The session cookie's value and the user.
    SignedIn { session: String, user: UserRow },
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
            PasswordCheck::Wrong => return Ok(SignIn::Refused("The username or password is incorrect.")),
            PasswordCheck::Throttled { retry_after } => return Ok(SignIn::Throttled { retry_after }),
            PasswordCheck::Busy => return Ok(SignIn::Busy),
        };
        let session = random_token()?;
        let now = self.now();
        self.store.insert_browser_session(&TokenHash::of(&session), &user.user_id, now, now.plus(SESSION_TTL)).await?;
        Ok(SignIn::SignedIn { session, user })
    }

    /// The signed-in user of a browser session cookie, if it is still valid.
    pub async fn session_user(&self, session: &str) -> Result<Option<UserRow>, ServiceError> {
        Ok(self.store.find_browser_session(&TokenHash::of(session), self.now()).await?)
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

    /// The user approved: mint a one-time code for the request.
    pub async fn issue_authorization_code(
        &self,
        request: &AuthorizationRequest,
        user: &UserRow,
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
                created_at: now,
                expires_at: now.plus(CODE_TTL),
                used_at: None,
                family_id: None,
            })
            .await?;
        Ok(code)
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.6.
    pub async fn authorization_code_grant(
        &self,
        client: &ClientRow,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::AuthorizationCode)?;
        let hash = TokenHash::of(code);
        let Some(stored) = self.store.find_authorization_code(&hash).await? else {
            return Err(CodeRejection::Unknown.into());
        };
        let now = self.now();
        let request = CodeRedemption { client_id: &client.client_id, redirect_uri, code_verifier };
        match decide_code_redemption(now, Some(&stored.issued()), &request) {
            CodeDecision::Redeem => {}
            CodeDecision::Reject(rejection) => return Err(rejection.into()),
            // RFC 6749 §4.1.2: a code used twice revokes what it granted.
            CodeDecision::RevokeFamily => {
                self.revoke_code_family(&stored).await?;
                return Err(CodeRejection::Replayed.into());
            }
        }
        // Every code grant gets a family, refresh token or not, so that its access tokens
        // carry `fid` and a replayed code can revoke them (RFC 6749 §4.1.2).
        let (family, refresh_token) = self.new_family(client, &stored.user_id, stored.scope.clone(), now)?;
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
        self.first_tokens(family, refresh_token, now)
    }

    async fn revoke_code_family(&self, code: &AuthorizationCodeRow) -> Result<(), ServiceError> {
        let Some(family_id) = &code.family_id else { return Ok(()) };
        if let Some(family) = self.store.get_family(family_id).await? {
            self.revoke_family(&family, RevocationReason::CodeReplayed).await?;
        }
        Ok(())
    }
}
