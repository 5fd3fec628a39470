//! Clients at the token endpoint: authentication (RFC 6749 §2.3) and what a client may ask
//! for (its grant types and its scope); lookups through the client cache, and the changes
//! that drop its entries.

use super::{AuthService, ServiceError};
use crate::admin::{AdminError, ClientUpdate};
use crate::store::ClientRow;
use std::sync::Arc;
use tessera_core::{ClientCredentials, ClientId, ClientSecret, GrantType, Scope};
use tessera_proto::ErrorCode;

impl AuthService {
    /// RFC 6749 §2.3: checks the presented credentials against the registered client.
    /// Every failure is `invalid_client`, with one message, so ids cannot be probed.
    pub async fn authenticate_client(&self, credentials: &ClientCredentials) -> Result<Arc<ClientRow>, ServiceError> {
        let failed = || ServiceError::ClientAuthentication { method: credentials.method() };
        let accepts = |client: &ClientRow| match (&client.secret_hash, credentials.secret()) {
            (Some(stored), Some(presented)) => presented.matches(stored),
            (None, None) => true,
            _ => false,
        };
        // A cached row that refuses the credentials is read again: the secret may have been
        // rotated elsewhere a moment ago, and the new one must work at once.
        if let Some(client) = self.clients.get(credentials.client_id(), self.now())
            && accepts(&client)
        {
            return Ok(client);
        }
        let client = self.read_client(credentials.client_id()).await?.ok_or_else(failed)?;
        if accepts(&client) { Ok(client) } else { Err(failed()) }
    }

    /// The registered client, from this instance's client cache when it was read less than
    /// `client_cache_ttl` ago (see [`super::client_cache`]), else from the database.
    pub(super) async fn client(&self, client_id: &ClientId) -> Result<Option<Arc<ClientRow>>, ServiceError> {
        match self.clients.get(client_id, self.now()) {
            Some(client) => Ok(Some(client)),
            None => self.read_client(client_id).await,
        }
    }

    /// The client from the database, remembered in the client cache.
    async fn read_client(&self, client_id: &ClientId) -> Result<Option<Arc<ClientRow>>, ServiceError> {
        let now = self.now();
        let lookup = self.clients.start_lookup();
        let Some(client) = self.store.get_client(client_id).await? else {
            self.clients.discard(client_id);
            return Ok(None);
        };
        let client = Arc::new(client);
        self.clients.remember(lookup, &client, now);
        Ok(Some(client))
    }

    /// Deletes a client through this instance, which forgets it at once (the CLI deletes in
    /// the database directly; running instances then stop accepting the client within
    /// `client_cache_ttl`). Whether the client existed.
    pub async fn delete_client(&self, client_id: &ClientId) -> Result<bool, ServiceError> {
        let deleted = self.store.delete_client(client_id).await;
        self.clients.forget(client_id);
        self.origins.forget();
        Ok(deleted?)
    }

    /// A new secret for a confidential client; through this instance, the old secret stops
    /// working here at once (see [`AuthService::delete_client`] for changes made elsewhere).
    pub async fn rotate_client_secret(&self, client_id: &ClientId) -> Result<ClientSecret, AdminError> {
        let rotated = crate::admin::rotate_client_secret(&self.store, client_id).await;
        self.clients.forget(client_id);
        rotated
    }

    /// `tessera client update` through this instance: the change applies here at once, on
    /// every other instance within `client_cache_ttl` (see [`AuthService::delete_client`]).
    pub async fn update_client(&self, client_id: &ClientId, update: ClientUpdate) -> Result<ClientRow, AdminError> {
        let updated = crate::admin::update_client(&self.store, client_id, update).await;
        self.clients.forget(client_id);
        self.origins.forget();
        updated
    }

    /// Tells this instance that a client changed in the database (any update made next to the
    /// service): its cached row is dropped at once.
    pub fn client_changed(&self, client_id: &ClientId) {
        self.clients.forget(client_id);
        self.origins.forget();
    }

    pub(crate) fn require_grant(client: &ClientRow, grant_type: GrantType) -> Result<(), ServiceError> {
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
    pub(crate) fn grant_scope(client: &ClientRow, requested: Option<&Scope>) -> Result<Scope, ServiceError> {
        Scope::grant(requested, &client.scope).ok_or_else(|| {
            ServiceError::oauth(ErrorCode::InvalidScope, "the requested scope exceeds what this client may ask for")
        })
    }
}
