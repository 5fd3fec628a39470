//! Remembered consent (OpenID Connect Core §3.1.2.4): once a user approves a client for a
//! scope, requests within it skip the consent page. Stored per user and client; withdrawing it
//! also revokes the token families that began at the consent page.

use super::{AuthService, ServiceError};
use crate::store::ConsentRow;
use tessera_core::oidc::remembered_after_approval;
use tessera_core::{ClientId, RevocationReason, Scope, UserId};

impl AuthService {
    /// The scope this user has approved for this client, if any.
    pub async fn remembered_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
    ) -> Result<Option<Scope>, ServiceError> {
        Ok(self.store.find_consent(user_id, client_id).await?.map(|consent| consent.scope))
    }

    /// The user approved `scope` on the consent page: remember it, with what was remembered.
    pub async fn remember_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        scope: &Scope,
    ) -> Result<(), ServiceError> {
        let before = self.remembered_consent(user_id, client_id).await?;
        let consent = ConsentRow {
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            client_name: String::new(),
            scope: remembered_after_approval(before.as_ref(), scope),
            granted_at: self.now(),
        };
        Ok(self.store.remember_consent(&consent).await?)
    }

    /// The clients a user has approved, for the account page.
    pub async fn consents(&self, user_id: &UserId) -> Result<Vec<ConsentRow>, ServiceError> {
        Ok(self.store.list_consents(user_id).await?)
    }

    /// Withdraws a consent and revokes every family that began under it; false if there was
    /// no consent (families are revoked either way).
    pub async fn revoke_consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<bool, ServiceError> {
        let existed = self.store.delete_consent(user_id, client_id).await?;
        for family_id in self.store.consented_families(user_id, client_id).await? {
            if let Some(family) = self.store.get_family(&family_id).await? {
                self.revoke_family(&family, RevocationReason::ConsentRevoked).await?;
            }
        }
        Ok(existed)
    }
}
