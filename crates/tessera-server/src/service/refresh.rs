//! The refresh grant (RFC 6749 §6) with rotation, grace window and reuse detection
//! (DESIGN.md §4): core decides, the store applies the decision by compare-and-set.

use super::grants::AccessGrant;
use super::{AuthService, InternalError, Issued, ServiceError};
use crate::metrics::RefreshOutcome;
use crate::store::{ClientRow, RotateOutcome, Rotation};
use tessera_core::client_access::within_client_scope;
use tessera_core::lifecycle::decide_refresh;
use tessera_core::{Family, GrantType, RefreshDecision, RefreshRejection, RefreshToken, Scope, Timestamp};

impl AuthService {
    /// RFC 6749 §6 with rotation, grace window and reuse detection (DESIGN.md §4).
    pub async fn refresh_grant(
        &self,
        client: &ClientRow,
        presented: &RefreshToken,
        requested_scope: Option<&Scope>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::RefreshToken)?;
        let presented_hash = presented.hash();
        // A lost compare-and-set means another request rotated this token between our read and
        // our write; reading again turns it into a grace-window replay. Two rounds suffice in
        // practice; the bound only stops a pathological loop.
        for _ in 0..5 {
            let now = self.now();
            let found = match self.store.find_refresh_token(&presented_hash).await {
                Err(error) if error.is_transient() => continue,
                other => other?,
            };
            let found = found.as_ref().map(|(token, family)| (token, family));
            let decision = decide_refresh(&self.config.refresh, now, found, &client.client_id, requested_scope);
            // The client's current registration bounds what its older families may still get.
            let decision = within_client_scope(decision, &client.scope);
            let rejection = match decision {
                RefreshDecision::Rotate { family, successor_idle_expires_at, access_scope } => {
                    let successor = presented.successor(&self.successor_key);
                    let rotation = Rotation {
                        presented: &presented_hash,
                        successor: &successor.hash(),
                        family_id: &family.id,
                        rotated_at: now,
                        successor_idle_expires_at,
                    };
                    match self.store.rotate_refresh_token(&rotation).await {
                        Ok(RotateOutcome::Rotated) => {
                            self.metrics.refresh_decision(RefreshOutcome::Rotated);
                            return self.reissue(family, successor, access_scope, now);
                        }
                        // Lost the compare-and-set, or PostgreSQL asked for a retry (serialization
                        // failure, deadlock): the transaction rolled back, so read again and re-decide.
                        Ok(RotateOutcome::LostRace) => continue,
                        Err(error) if error.is_transient() => continue,
                        Err(error) => return Err(error.into()),
                    }
                }
                RefreshDecision::Replay { family, access_scope } => {
                    let successor = presented.successor(&self.successor_key);
                    self.metrics.refresh_decision(RefreshOutcome::Replayed);
                    return self.reissue(family, successor, access_scope, now);
                }
                RefreshDecision::Reject(rejection) => {
                    self.metrics.refresh_decision(RefreshOutcome::Rejected);
                    rejection
                }
                RefreshDecision::RevokeFamily(family) => {
                    self.metrics.refresh_decision(RefreshOutcome::ReuseDetected);
                    self.revoke_family(family, tessera_core::RevocationReason::ReuseDetected).await?;
                    RefreshRejection::Reused
                }
            };
            return Err(rejection.into());
        }
        Err(InternalError::RotationContention.into())
    }

    fn reissue(
        &self,
        family: &Family,
        successor: RefreshToken,
        access_scope: Scope,
        now: Timestamp,
    ) -> Result<Issued, ServiceError> {
        let access_token = self.mint_access_token(&AccessGrant::of_family(family, &access_scope), now)?;
        Ok(Issued {
            access_token,
            expires_in: self.expires_in(),
            refresh_token: Some(successor),
            scope: access_scope,
            id_token: None,
            family_id: Some(family.id.clone()),
        })
    }
}
