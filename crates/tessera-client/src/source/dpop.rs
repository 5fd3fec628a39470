//! The token source's DPoP (RFC 9449): the profile's key, read from the store once, and the
//! token endpoint's HTTP client that signs a proof with it for each request.

use std::sync::{Arc, PoisonError};

use super::TokenSource;
use crate::dpop::DpopKey;
use crate::dpop::transport::{Prover, Transport};
use crate::error::ClientError;
use crate::profile::ClientSettings;

impl TokenSource {
    /// The profile's DPoP key (RFC 9449): read from the store, or made there by the first call
    /// (see [`CredentialStore::dpop_key`](crate::CredentialStore::dpop_key)).
    pub async fn dpop_key(&self) -> Result<DpopKey, ClientError> {
        if let Some(key) = self.dpop_key.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(key.clone());
        }
        let key = self.on_store(|store| store.dpop_key()).await?;
        *self.dpop_key.lock().unwrap_or_else(PoisonError::into_inner) = Some(key.clone());
        Ok(key)
    }

    /// Forgets the key read from the store (after logout deleted it).
    pub(crate) fn forget_dpop_key(&self) {
        *self.dpop_key.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The HTTP client of the token endpoint for `settings`: with DPoP proofs by the profile's
    /// key when the settings ask for DPoP.
    pub(crate) async fn transport(&self, settings: &ClientSettings) -> Result<Transport, ClientError> {
        let prover = if settings.dpop {
            let (nonces, clock) = (Arc::clone(&self.nonces), Arc::clone(&self.clock));
            Some(Prover { key: self.dpop_key().await?, nonces, clock })
        } else {
            None
        };
        Ok(Transport::new(self.http.clone(), prover))
    }
}
