//! The console's clients, users and sessions through the service, so that what this instance
//! caches (clients, CORS origins, revoked families) follows each change at once.

use super::audit::Actor;
use super::{AuthService, ServiceError};
use crate::admin::{self, AdminError, NewClient, UserChange, UserProfile};
use crate::store::console::{BrowserSessionRow, LiveFamilyRow, Owner, Paging};
use crate::store::{ClientRow, UserRow};
use tessera_core::{ClientId, ClientSecret, Family, FamilyId, Password, RevocationReason, TokenHash, UserId};

/// At most this many families are revoked per round when a client is deleted.
const REVOKE_ROUND: i64 = 500;

impl LiveFamilyRow {
    fn family(&self) -> Family {
        Family {
            id: self.family_id.clone(),
            client_id: self.client_id.clone(),
            user_id: self.user_id.clone(),
            scope: self.scope.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: None,
            jkt: None,
        }
    }
}

impl AuthService {
    /// Clients whose name or id contain `search` (case-insensitive), oldest first.
    pub async fn find_clients(&self, search: &str) -> Result<Vec<ClientRow>, ServiceError> {
        let search = search.to_lowercase();
        let clients = self.store.list_clients().await?;
        Ok(clients
            .into_iter()
            .filter(|client| {
                client.name.to_lowercase().contains(&search) || client.client_id.as_str().contains(&search)
            })
            .collect())
    }

    /// A client as the database has it now, with its post-logout redirect URIs.
    pub async fn client_with_logout_uris(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<(ClientRow, Vec<String>)>, ServiceError> {
        let Some(client) = self.store.get_client(client_id).await? else { return Ok(None) };
        let uris = self.store.client_post_logout_redirect_uris(client_id).await?.unwrap_or_default();
        Ok(Some((client, uris)))
    }

    /// `tessera client create` with its post-logout redirect URIs, all checked before anything
    /// is written. The secret, for a confidential client, is returned once.
    pub async fn create_client(
        &self,
        new: NewClient,
        post_logout_redirect_uris: &[String],
    ) -> Result<(ClientRow, Option<ClientSecret>), AdminError> {
        admin::check_post_logout_redirect_uris(post_logout_redirect_uris)?;
        let (client, secret) = admin::create_client(&self.store, self.now(), new).await?;
        if !post_logout_redirect_uris.is_empty() {
            admin::set_post_logout_redirect_uris(&self.store, &client.client_id, post_logout_redirect_uris).await?;
        }
        self.client_changed(&client.client_id);
        Ok((client, secret))
    }

    /// Live families (newest first) of a user, of a client, or of everyone.
    pub async fn live_families(&self, owner: Owner<'_>, paging: Paging) -> Result<Vec<LiveFamilyRow>, ServiceError> {
        Ok(self.store.list_live_families(owner, self.now(), paging).await?)
    }

    pub async fn count_live_families(&self, owner: Owner<'_>) -> Result<i64, ServiceError> {
        Ok(self.store.count_live_families(owner, self.now()).await?)
    }

    /// Deletes a client after revoking each of its live families (so that this instance
    /// refuses their access tokens at once, as a revocation does); how many were revoked, or
    /// `None` if there was no such client.
    pub async fn delete_client_revoking_families(
        &self,
        admin: Actor<'_>,
        client_id: &ClientId,
    ) -> Result<Option<u64>, ServiceError> {
        let mut revoked = 0;
        loop {
            let round = Paging { limit: REVOKE_ROUND, offset: 0 };
            let families = self.live_families(Owner::Client(client_id), round).await?;
            for family in &families {
                self.revoke_family_by(Some(admin), &family.family(), RevocationReason::ClientDeleted).await?;
            }
            revoked += families.len() as u64;
            if (families.len() as i64) < REVOKE_ROUND {
                break;
            }
        }
        Ok(self.delete_client(client_id).await?.then_some(revoked))
    }

    /// Revokes one family (reason: an admin): the family, or `None` if it was not live.
    pub async fn revoke_family_by_admin(
        &self,
        admin: Actor<'_>,
        family_id: &FamilyId,
    ) -> Result<Option<Family>, ServiceError> {
        match self.store.get_family(family_id).await? {
            Some(family) if family.revoked_at.is_none() => {
                self.revoke_family_by(Some(admin), &family, RevocationReason::RevokedByAdmin).await?;
                Ok(Some(family))
            }
            _ => Ok(None),
        }
    }

    pub async fn find_users(&self, search: &str, paging: Paging) -> Result<Vec<UserRow>, ServiceError> {
        Ok(self.store.list_users(Some(search), paging).await?)
    }

    pub async fn user_by_id(&self, user_id: &UserId) -> Result<Option<UserRow>, ServiceError> {
        Ok(self.store.get_user(user_id).await?)
    }

    pub async fn create_user(
        &self,
        username: &str,
        profile: UserProfile,
        is_admin: bool,
        password: Password,
    ) -> Result<UserRow, AdminError> {
        admin::create_user_with_profile(&self.store, self.now(), username, profile, is_admin, password).await
    }

    pub async fn set_user_password(&self, user_id: &UserId, password: Password) -> Result<(), AdminError> {
        admin::set_user_password(&self.store, self.now(), user_id, password).await
    }

    /// A change of the admin or disabled flag that always leaves an enabled admin.
    pub async fn change_user(&self, user_id: &UserId, change: UserChange) -> Result<UserRow, AdminError> {
        admin::update_user_keeping_an_admin(&self.store, self.now(), user_id, change).await
    }

    /// Forgets the failed sign-ins counted against `username`: how many counters went.
    pub async fn clear_sign_in_throttle(&self, username: &str) -> Result<u64, ServiceError> {
        Ok(self.store.clear_sign_in_throttle(username).await?)
    }

    /// Live browser sessions of a user, or everyone's.
    pub async fn browser_sessions(
        &self,
        owner: Owner<'_>,
        paging: Paging,
    ) -> Result<Vec<BrowserSessionRow>, ServiceError> {
        Ok(self.store.list_browser_sessions(owner, self.now(), paging).await?)
    }

    /// Ends a browser session named by its stored hash (never the cookie): whose it was, or
    /// `None` if there was no such live session.
    pub async fn end_browser_session(&self, session_hash: &str) -> Result<Option<UserRow>, ServiceError> {
        let hash = TokenHash::from_stored(session_hash.to_owned());
        let Some(user) = self.store.find_browser_session(&hash, self.now()).await? else { return Ok(None) };
        Ok(self.store.delete_browser_session(&hash).await?.then_some(user))
    }
}
