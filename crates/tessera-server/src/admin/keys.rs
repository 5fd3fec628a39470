//! `tessera keys revoke`: retiring a signing key from JWKS and verification at once.

use super::AdminError;
use crate::config::SigningAlgorithm;
use crate::keys::rotate_keys;
use crate::store::{SigningKeyRow, Store};
use tessera_core::{KeyState, MasterKey, Timestamp};

/// What `tessera keys revoke` does when the key to revoke is the one that signs.
#[derive(Debug, Clone, Copy)]
pub enum WhenActive<'a> {
    /// Revoke it only if another active key exists (the default).
    Refuse,
    /// Rotate a new active key in first (`--rotate`), sealed under this master key, then revoke.
    RotateFirst(&'a MasterKey, SigningAlgorithm),
}

/// `tessera keys revoke KID`: the key leaves JWKS and verification at once in the database;
/// each running instance drops it when it next re-reads its keys (within the key-refresh
/// interval), and from then on refuses every token it signed, remembered or not.
///
/// The only active key is not revoked unless a successor is rotated in first: without one,
/// every instance would be left with nothing to sign with until restarted. Returns the
/// successor, if one was rotated in.
pub async fn revoke_signing_key(
    store: &Store,
    now: Timestamp,
    kid: &str,
    when_active: WhenActive<'_>,
) -> Result<Option<SigningKeyRow>, AdminError> {
    let key = store.find_signing_key(kid).await?.ok_or_else(|| AdminError::NoSuchSigningKey(kid.into()))?;
    let successor = match (key.state(), when_active) {
        (KeyState::Revoked { .. }, _) => return Err(AdminError::SigningKeyAlreadyRevoked(kid.into())),
        (KeyState::Active, WhenActive::RotateFirst(master, algorithm)) => {
            Some(rotate_keys(store, master, algorithm, now).await?)
        }
        _ => None,
    };
    if store.revoke_signing_key(kid, now).await? {
        return Ok(successor);
    }
    // Nothing changed: say why, as the database sees it now.
    match store.find_signing_key(kid).await?.map(|key| key.state()) {
        None => Err(AdminError::NoSuchSigningKey(kid.into())),
        Some(KeyState::Revoked { .. }) => Err(AdminError::SigningKeyAlreadyRevoked(kid.into())),
        Some(_) => Err(AdminError::OnlyActiveSigningKey(kid.into())),
    }
}
