//! The userinfo endpoint's use case (OpenID Connect Core §5.3): the claims an access token's
//! scope releases about its user.

use super::AuthService;
use super::dpop_access::{AccessError, PresentedToken};
use tessera_core::Scope;
use tessera_core::oidc::claims::{claims_for_scope, is_openid};
use tessera_proto::{UserId, UserInfoClaims};

/// Why userinfo refuses a valid access token (RFC 6750 §3.1 `insufficient_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserInfoRefusal {
    /// Core §5.3: the token was not granted `openid`.
    NotOpenId,
    /// A client's own token (client credentials): it acts for no user.
    NoUser,
}

impl UserInfoRefusal {
    pub fn description(self) -> &'static str {
        match self {
            UserInfoRefusal::NotOpenId => "this access token was not granted the openid scope",
            UserInfoRefusal::NoUser => "this access token does not act for a user",
        }
    }
}

impl AuthService {
    /// Core §5.3.2: `sub` and the claims the token's scope allows (§5.4).
    /// The token comes as a bearer token or, if DPoP-bound, with a proof (RFC 9449 §7).
    pub async fn userinfo(
        &self,
        presented: &PresentedToken<'_>,
    ) -> Result<Result<UserInfoClaims, UserInfoRefusal>, AccessError> {
        let claims = self.authenticate_resource_claims(presented).await?;
        let scope = Scope::parse(&claims.scope).unwrap_or_default();
        if !is_openid(&scope) {
            return Ok(Err(UserInfoRefusal::NotOpenId));
        }
        let user = self.store.get_user(&UserId::new(claims.sub.as_str())).await.map_err(super::InternalError::from)?;
        let Some(user) = user else { return Ok(Err(UserInfoRefusal::NoUser)) };
        let mut info = claims_for_scope(&scope, &user.profile());
        info.sub = Some(user.user_id.into_string());
        Ok(Ok(info))
    }
}
