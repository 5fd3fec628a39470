//! The token endpoint (RFC 6749 §3.2): it authenticates the client, runs the grant asked
//! for, counts the outcome, and mints the first tokens of a new grant (password, client
//! credentials; the code grant's are in `authorization`, refreshes in `refresh`), with the
//! id token when the scope includes `openid` (`id_tokens`).

use super::id_tokens::Authentication;
use super::{AuthService, PasswordCheck, ServiceError};
use crate::metrics::TokenOutcome;
use crate::random::random_bytes;
use crate::store::ClientRow;
use std::net::IpAddr;
use tessera_core::dpop::Thumbprint;
use tessera_core::{
    ClientId, Family, FamilyId, GrantRequest, GrantType, Password, RefreshToken, Scope, Timestamp, TokenRequest, UserId,
};
use tessera_proto::{AccessTokenClaims, Confirmation, ErrorCode, Jti};

/// Tokens to hand back from the token endpoint.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<RefreshToken>,
    pub scope: Scope,
    /// OpenID Connect Core §3.1.3.3: when the scope includes `openid`.
    pub id_token: Option<String>,
    /// The family the tokens belong to, if any (a refresh's id token needs it).
    pub family_id: Option<FamilyId>,
    /// RFC 9449: the DPoP key the access token is bound to (`cnf.jkt`; `token_type: DPoP`).
    pub cnf: Option<Thumbprint>,
}

/// Whom an access token acts for (its `sub`): a user, or the client itself (RFC 6749 §4.4).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    User(&'a UserId),
    Client,
}

/// What an access token grants: to which client, for whom, what, and from which family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessGrant<'a> {
    pub client_id: &'a ClientId,
    pub subject: Subject<'a>,
    pub scope: &'a Scope,
    pub family_id: Option<&'a FamilyId>,
    /// RFC 9449 §6: the DPoP key the token is bound to, if the request carried a proof.
    pub cnf: Option<&'a Thumbprint>,
}

impl<'a> AccessGrant<'a> {
    /// An access token of `family`, carrying `scope` (which a refresh may have narrowed),
    /// bound to the DPoP key `cnf` if the request proved one.
    pub fn of_family(family: &'a Family, scope: &'a Scope, cnf: Option<&'a Thumbprint>) -> Self {
        AccessGrant {
            client_id: &family.client_id,
            subject: Subject::User(&family.user_id),
            scope,
            family_id: Some(&family.id),
            cnf,
        }
    }
}

impl AuthService {
    /// `POST /oauth/token` from the client at `address` (for the password throttle):
    /// authenticates the client, runs the grant, counts the outcome in
    /// `tessera_token_requests_total` and times it in `tessera_token_grant_duration_seconds`.
    /// `dpop` is the request's `DPoP` header, if it sent one (RFC 9449 §4).
    pub async fn token(
        &self,
        request: &TokenRequest,
        address: IpAddr,
        dpop: Option<&str>,
    ) -> Result<Issued, ServiceError> {
        let started = std::time::Instant::now();
        let result = self.run_grant(request, address, dpop).await;
        self.metrics.grant_served(request.grant.grant_type(), started.elapsed());
        let outcome = match &result {
            Ok(_) => TokenOutcome::Ok,
            Err(error) => TokenOutcome::Error(error.error_code()),
        };
        self.metrics.token_request(request.grant.grant_type(), outcome);
        result
    }

    async fn run_grant(
        &self,
        request: &TokenRequest,
        address: IpAddr,
        dpop: Option<&str>,
    ) -> Result<Issued, ServiceError> {
        let client = self.authenticate_client(&request.client).await?;
        let dpop = self.token_endpoint_proof(&client, dpop).await?;
        let dpop = dpop.as_ref();
        match &request.grant {
            GrantRequest::Password { username, password, scope } => {
                self.password_grant(&client, username, password.clone(), scope.as_ref(), address, dpop).await
            }
            GrantRequest::RefreshToken { refresh_token, scope } => {
                let issued = self.refresh_grant(&client, refresh_token, scope.as_ref(), dpop).await?;
                self.with_refreshed_id_token(issued).await
            }
            GrantRequest::ClientCredentials { scope } => {
                self.client_credentials_grant(&client, scope.as_ref(), dpop).await
            }
            GrantRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
                let (redirect_uri, code_verifier) = (redirect_uri.as_deref(), code_verifier.as_deref());
                self.authorization_code_grant(&client, code, redirect_uri, code_verifier, dpop).await
            }
            GrantRequest::DeviceCode { device_code } => self.device_code_grant(&client, device_code, dpop).await,
        }
    }

    /// RFC 6749 §4.3, the resource owner password credentials grant, asked from `address`.
    pub async fn password_grant(
        &self,
        client: &ClientRow,
        username: &str,
        password: Password,
        requested_scope: Option<&Scope>,
        address: IpAddr,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::Password)?;
        let scope = Self::grant_scope(client, requested_scope)?;
        let user = match self.check_password(username, password, address).await? {
            PasswordCheck::Correct(user) => user,
            PasswordCheck::Wrong => {
                return Err(ServiceError::oauth(ErrorCode::InvalidGrant, "the username or password is incorrect"));
            }
            PasswordCheck::Throttled { retry_after } => return Err(ServiceError::Throttled { retry_after }),
            PasswordCheck::Busy => return Err(ServiceError::PasswordChecksBusy),
        };
        if user.disabled {
            return Err(ServiceError::oauth(ErrorCode::InvalidGrant, "this account is disabled"));
        }
        let now = self.now();
        let issued = self.start_grant(client, &user.user_id, scope, dpop).await?;
        // The user authenticated just now, by password, and no browser session was involved.
        let authentication = Authentication { auth_time: now, nonce: None, sid: None };
        if let Some(family_id) = &issued.family_id
            && let Some(family) = self.store.get_family(family_id).await?
        {
            self.record_family_sign_in(&family, &authentication, false).await?;
        }
        self.with_id_token(issued, &client.client_id, &user, &authentication, now)
    }

    /// RFC 6749 §4.4: the client acts for itself. Confidential clients only (§4.4: "MUST only
    /// be used by confidential clients"); no refresh token (§4.4.3).
    pub async fn client_credentials_grant(
        &self,
        client: &ClientRow,
        requested_scope: Option<&Scope>,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::ClientCredentials)?;
        if client.is_public() {
            return Err(ServiceError::oauth(
                ErrorCode::UnauthorizedClient,
                "public clients may not use the client_credentials grant",
            ));
        }
        let scope = Self::grant_scope(client, requested_scope)?;
        let grant = AccessGrant {
            client_id: &client.client_id,
            subject: Subject::Client,
            scope: &scope,
            family_id: None,
            cnf: dpop,
        };
        let access_token = self.mint_access_token(&grant, self.now())?;
        Ok(Issued {
            access_token,
            expires_in: self.expires_in(),
            refresh_token: None,
            scope,
            id_token: None,
            family_id: None,
            cnf: dpop.cloned(),
        })
    }

    /// Issues the first tokens of a grant: an access token and, if the client may refresh,
    /// the first refresh token of a new family; bound to the DPoP key `dpop` if given.
    pub async fn start_grant(
        &self,
        client: &ClientRow,
        user_id: &UserId,
        scope: Scope,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        let now = self.now();
        if !client.allows_grant(GrantType::RefreshToken) {
            let grant = AccessGrant {
                client_id: &client.client_id,
                subject: Subject::User(user_id),
                scope: &scope,
                family_id: None,
                cnf: dpop,
            };
            let access_token = self.mint_access_token(&grant, now)?;
            return Ok(Issued {
                access_token,
                expires_in: self.expires_in(),
                refresh_token: None,
                scope,
                id_token: None,
                family_id: None,
                cnf: dpop.cloned(),
            });
        }
        let (family, refresh_token) = self.new_family(client, user_id, scope, now, dpop)?;
        let first = refresh_token.as_ref().map(|token| (token.hash(), self.config.refresh.idle_expiry(now, &family)));
        self.store.create_family(&family, first.as_ref().map(|(hash, expiry)| (hash, *expiry))).await?;
        self.first_tokens(family, refresh_token, now, dpop)
    }

    /// A new family for a grant, with its first refresh token if the client may refresh. A
    /// public client's family is bound to the DPoP key `dpop` it proved (RFC 9449 §5); a
    /// confidential client's refresh tokens stay bound by its authentication.
    pub(crate) fn new_family(
        &self,
        client: &ClientRow,
        user_id: &UserId,
        scope: Scope,
        now: Timestamp,
        dpop: Option<&Thumbprint>,
    ) -> Result<(Family, Option<RefreshToken>), ServiceError> {
        let family = Family {
            id: FamilyId::new(uuid::Uuid::new_v4().to_string()),
            client_id: client.client_id.clone(),
            user_id: user_id.clone(),
            scope,
            created_at: now,
            expires_at: self.config.refresh.family_expiry(now),
            revoked_at: None,
            jkt: dpop.filter(|_| client.is_public()).cloned(),
        };
        let refresh_token = if client.allows_grant(GrantType::RefreshToken) {
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
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        let access_token = self.mint_access_token(&AccessGrant::of_family(&family, &family.scope, dpop), now)?;
        Ok(Issued {
            access_token,
            expires_in: self.expires_in(),
            refresh_token,
            scope: family.scope,
            id_token: None,
            family_id: Some(family.id),
            cnf: dpop.cloned(),
        })
    }

    pub(crate) fn expires_in(&self) -> u64 {
        self.config.access_token_ttl.as_secs()
    }

    /// An RFC 9068 access token for `grant`, valid for the configured lifetime from `now`.
    pub(crate) fn mint_access_token(&self, grant: &AccessGrant<'_>, now: Timestamp) -> Result<String, ServiceError> {
        let sub = match grant.subject {
            Subject::User(user_id) => user_id.to_string(),
            Subject::Client => grant.client_id.to_string(),
        };
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub,
            aud: self.issuer.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.to_string(),
            iat: now.secs(),
            exp: now.plus(self.config.access_token_ttl).secs(),
            jti: Jti::new(uuid::Uuid::new_v4().to_string()),
            fid: grant.family_id.cloned(),
            cnf: grant.cnf.map(|jkt| Confirmation { jkt: jkt.as_str().to_owned() }),
        };
        Ok(self.keys.sign(&claims)?)
    }
}
