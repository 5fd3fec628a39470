//! Clients at the token endpoint: authentication (RFC 6749 §2.3) and what a client may ask
//! for (its grant types and its scope).

use super::{AuthService, ServiceError};
use crate::store::ClientRow;
use tessera_core::{ClientCredentials, GrantType, Scope};
use tessera_proto::ErrorCode;

impl AuthService {
    /// RFC 6749 §2.3: checks the presented credentials against the registered client.
    /// Every failure is `invalid_client`, with one message, so ids cannot be probed.
    pub async fn authenticate_client(&self, credentials: &ClientCredentials) -> Result<ClientRow, ServiceError> {
        let failed = || ServiceError::ClientAuthentication { method: credentials.method() };
        let client = self.store.get_client(credentials.client_id()).await?.ok_or_else(failed)?;
        match (&client.secret_hash, credentials.secret()) {
            (Some(stored), Some(presented)) if presented.matches(stored) => Ok(client),
            (None, None) => Ok(client),
            _ => Err(failed()),
        }
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
