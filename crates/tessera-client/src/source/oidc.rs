//! The token source's OpenID Connect side: every id token is validated before the response
//! that carries it is stored, and [`TokenSource::id_token_claims`] hands out the stored one's
//! claims, validated again.
//!
//! A refresh response whose id token fails validation — another `sub` than the stored id token
//! (OpenID Connect Core §12.2), another issuer or audience, a bad signature, an expired token — is
//! refused as a whole: the call fails with [`ClientError::IdToken`] and the store keeps the
//! previous profile. The server has rotated the refresh token by then, so the next refresh
//! presents the spent one: within the grace window the server answers the same way again (and is
//! refused again), after it the server sees reuse and revokes the family, which ends in
//! [`ClientError::LoginRequired`]. Either way no token of an identity the user did not log in as
//! is ever used.

use super::TokenSource;
use crate::error::ClientError;
use crate::id_token::jwks::stored_claims;
use crate::id_token::{Expected, IdToken, IdTokenClaims, IdTokenError};
use crate::oauth::GrantResponse;
use crate::profile::ClientSettings;

impl TokenSource {
    /// Validates the id token of `response`, if it has one: signature against the issuer's JWK
    /// set, `iss`, `aud` (and `azp`), `exp`, `iat`, the `nonce` of a browser login, and after a
    /// refresh the `sub` of the `previous` id token.
    pub(super) async fn check_id_token(
        &self,
        settings: &ClientSettings,
        response: &GrantResponse,
        nonce: Option<&str>,
        previous: Option<&IdToken>,
    ) -> Result<(), ClientError> {
        let Some(token) = &response.extra_fields().id_token else { return Ok(()) };
        let previous_sub = previous.and_then(|previous| stored_claims(previous.secret()).ok()).map(|claims| claims.sub);
        self.validate_id_token(settings, token, nonce, previous_sub.as_deref()).await.map(|_| ())
    }

    async fn validate_id_token(
        &self,
        settings: &ClientSettings,
        token: &IdToken,
        nonce: Option<&str>,
        sub: Option<&str>,
    ) -> Result<IdTokenClaims, ClientError> {
        let issuer = settings.issuer.as_deref().ok_or_else(|| {
            ClientError::Config("the issuer is unknown, so the server's id token cannot be validated".to_owned())
        })?;
        let jwks_uri = settings.jwks_uri.as_deref().ok_or_else(|| {
            ClientError::Config(
                "the server publishes no jwks_uri, so its id token cannot be validated; nothing was stored".to_owned(),
            )
        })?;
        let expected = Expected { issuer, client_id: &settings.client_id, nonce, sub };
        self.jwks.validate(&self.http, jwks_uri, token.secret(), expected, self.clock.now()).await
    }

    /// The claims of the stored id token, validated now (signature, `iss`, `aud`, `exp`, `iat`;
    /// its `nonce` was checked at login). The access token is refreshed first when it is due, and
    /// an expired id token once more: each refresh brings a new id token.
    ///
    /// [`ClientError::NoIdToken`] when the login did not ask for `openid`;
    /// [`ClientError::IdToken`] when the stored token no longer validates.
    pub async fn id_token_claims(&self) -> Result<IdTokenClaims, ClientError> {
        self.access_token().await?;
        let profile = self.profile().await?;
        let token = profile.tokens.id_token.clone().ok_or(ClientError::NoIdToken)?;
        match self.validate_id_token(&profile.client, &token, None, None).await {
            Err(ClientError::IdToken(IdTokenError::Expired { .. })) if profile.tokens.refresh_token.is_some() => {
                self.force_refresh().await?;
                let profile = self.profile().await?;
                let token = profile.tokens.id_token.clone().ok_or(ClientError::NoIdToken)?;
                self.validate_id_token(&profile.client, &token, None, None).await
            }
            other => other,
        }
    }
}
