//! The admin console's own use cases: the overview's numbers and the signing keys page
//! (list, rotate, revoke), each change audited with the admin as its actor and followed by a
//! reload of this instance's keys.

use super::audit::{Actor, AuditAction};
use super::{AuthService, ServiceError};
use crate::admin::{AdminError, WhenActive, revoke_signing_key};
use crate::keys::rotate_keys;
use crate::metrics::history::LastHour;
use crate::store::SigningKeyRow;
use crate::store::counts::ConsoleCounts;
use tessera_core::KeyState;

impl AuthService {
    /// Clients, users, live families and active personal access tokens now.
    pub async fn console_counts(&self) -> Result<ConsoleCounts, ServiceError> {
        Ok(self.store.console_counts(self.now()).await?)
    }

    /// The last hour of this instance's charted counters, per minute.
    pub fn activity(&self) -> LastHour {
        self.metrics.last_hour()
    }

    /// Every signing key: the active one first, then the retired, then the revoked, each
    /// newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, ServiceError> {
        let rank = |key: &SigningKeyRow| match key.state() {
            KeyState::Active => 0,
            KeyState::Retired { .. } => 1,
            KeyState::Revoked { .. } => 2,
        };
        let mut keys = self.store.list_signing_keys().await?;
        keys.sort_by_key(|key| (rank(key), std::cmp::Reverse(key.created_at)));
        Ok(keys)
    }

    /// A new active key in the configured algorithm; the others retire. Audited, then this
    /// instance signs with the new key at once (the others within the key-refresh interval).
    pub async fn rotate_signing_key(&self, actor: Actor<'_>) -> Result<SigningKeyRow, ServiceError> {
        let row = rotate_keys(&self.store, self.keys.master_key(), self.config.signing_alg, self.now()).await?;
        let detail = format!("new active key ({}); the previous keys retired", row.algorithm);
        self.audit(Some(actor), AuditAction::KeyRotate, &row.kid, &detail).await?;
        self.reload_keys().await?;
        Ok(row)
    }

    /// Revokes `kid` (see [`revoke_signing_key`]): the only active key is refused unless
    /// `rotate_first`. The refusals are the outer `Err`'s [`AdminError`]; returns the key
    /// rotated in first, if any.
    pub async fn revoke_signing_key(
        &self,
        actor: Actor<'_>,
        kid: &str,
        rotate_first: bool,
    ) -> Result<Result<Option<SigningKeyRow>, AdminError>, ServiceError> {
        let when_active = match rotate_first {
            true => WhenActive::RotateFirst(self.keys.master_key(), self.config.signing_alg),
            false => WhenActive::Refuse,
        };
        let successor = match revoke_signing_key(&self.store, self.now(), kid, when_active).await {
            Ok(successor) => successor,
            Err(AdminError::Store(error)) => return Err(error.into()),
            Err(AdminError::Key(error)) => return Err(error.into()),
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Some(row) = &successor {
            let detail = format!("new active key ({}), rotated in before revoking {kid}", row.algorithm);
            self.audit(Some(actor), AuditAction::KeyRotate, &row.kid, &detail).await?;
        }
        let detail = "removed from JWKS and verification; tokens it signed are refused";
        self.audit(Some(actor), AuditAction::KeyRevoke, kid, detail).await?;
        self.reload_keys().await?;
        Ok(Ok(successor))
    }
}
