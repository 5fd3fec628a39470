//! Token introspection (RFC 7662): whether a token is active and what it grants. Activity is
//! decided by the same rules as use: core's `StoredRefreshToken::is_active` for refresh
//! tokens, the bearer checks for access tokens and personal access tokens. Who may see which
//! token is core's `client_access::may_introspect`: a client its own tokens, a resource server
//! (`--introspect`) any access token too; anything else is `{"active": false}`. Introspection
//! only reads: it never spends a token nor trips reuse detection.

use super::bearer::BearerError;
use super::{AuthService, ServiceError};
use crate::store::ClientRow;
use tessera_core::client_access;
use tessera_core::{IntrospectedToken, PersonalAccessToken, RefreshToken, Timestamp, TokenHash, TokenTypeHint, UserId};
use tessera_proto::{ErrorCode, IntrospectionResponse};

impl AuthService {
    /// Only confidential clients may introspect (RFC 7662 §2.1 asks for authorization; a
    /// public client's id is no secret).
    pub fn may_introspect(&self, client: &ClientRow) -> Result<(), ServiceError> {
        if client.is_public() {
            return Err(ServiceError::oauth(ErrorCode::InvalidClient, "introspection requires a confidential client"));
        }
        Ok(())
    }

    /// Introspects `token` for `client`, which [`AuthService::may_introspect`]. An inactive or
    /// unknown token answers `{"active": false}` and nothing else (§2.2).
    pub async fn introspect(
        &self,
        client: &ClientRow,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<IntrospectionResponse, ServiceError> {
        self.may_introspect(client)?;
        if token.starts_with(PersonalAccessToken::PREFIX) {
            if !Self::may_see(client, IntrospectedToken::PersonalAccess) {
                return Ok(IntrospectionResponse::default());
            }
            return match self.check_personal_access_token(token).await {
                Ok(pat) => Ok(IntrospectionResponse {
                    active: true,
                    scope: Some(pat.scope.to_string()),
                    client_id: None,
                    username: Some(pat.username),
                    token_type: Some("personal_access_token".into()),
                    exp: pat.expires_at.map(Timestamp::secs),
                    iat: Some(pat.created_at.secs()),
                    sub: Some(pat.user_id.into_string()),
                    iss: Some(self.issuer.clone()),
                    cnf: None,
                }),
                Err(BearerError::Invalid(_)) => Ok(IntrospectionResponse::default()),
                Err(BearerError::Internal(error)) => Err(error.into()),
            };
        }
        let refresh_first = hint == Some(TokenTypeHint::RefreshToken) || token.starts_with(RefreshToken::PREFIX);
        for attempt_refresh in [refresh_first, !refresh_first] {
            let found = if attempt_refresh {
                self.introspect_refresh_token(client, token).await?
            } else {
                self.introspect_access_token(client, token).await?
            };
            if let Some(response) = found {
                return Ok(response);
            }
        }
        Ok(IntrospectionResponse::default())
    }

    /// Whether `client` may see `token`'s details (core's rule, on the client's registration).
    fn may_see(client: &ClientRow, token: IntrospectedToken<'_>) -> bool {
        client_access::may_introspect(&client.client_id, client.introspection, token)
    }

    async fn username(&self, user_id: &UserId) -> Result<Option<String>, ServiceError> {
        Ok(self.store.get_user(user_id).await?.map(|user| user.username))
    }

    async fn introspect_refresh_token(
        &self,
        client: &ClientRow,
        token: &str,
    ) -> Result<Option<IntrospectionResponse>, ServiceError> {
        let Some((stored, family)) = self.store.find_refresh_token(&TokenHash::of(token)).await? else {
            return Ok(None);
        };
        let visible = Self::may_see(client, IntrospectedToken::Refresh { client_id: &family.client_id });
        if !visible || !stored.is_active(&family, self.now()) {
            return Ok(Some(IntrospectionResponse::default()));
        }
        Ok(Some(IntrospectionResponse {
            active: true,
            scope: Some(family.scope.to_string()),
            client_id: Some(family.client_id.to_string()),
            username: self.username(&family.user_id).await?,
            token_type: Some("refresh_token".into()),
            exp: Some(stored.expires_at(&family).secs()),
            iat: Some(stored.created_at.secs()),
            sub: Some(family.user_id.to_string()),
            iss: Some(self.issuer.clone()),
            cnf: None,
        }))
    }

    async fn introspect_access_token(
        &self,
        client: &ClientRow,
        token: &str,
    ) -> Result<Option<IntrospectionResponse>, ServiceError> {
        let Ok(claims) = self.verify_jwt(token).await else { return Ok(None) };
        if !Self::may_see(client, IntrospectedToken::Access { client_id: &claims.client_id }) {
            return Ok(Some(IntrospectionResponse::default()));
        }
        match self.check_claims(&claims).await {
            Ok(()) => {}
            Err(BearerError::Invalid(_)) => return Ok(Some(IntrospectionResponse::default())),
            Err(BearerError::Internal(error)) => return Err(error.into()),
        };
        Ok(Some(IntrospectionResponse {
            active: true,
            scope: Some(claims.scope.clone()),
            client_id: Some(claims.client_id.to_string()),
            username: self.username(&UserId::new(claims.sub.as_str())).await?,
            // RFC 9449 §6.2: a DPoP-bound token says so, and names its key.
            token_type: Some(if claims.cnf.is_some() { "DPoP" } else { "Bearer" }.into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub.clone()),
            iss: Some(claims.iss.clone()),
            cnf: claims.cnf.clone(),
        }))
    }
}
