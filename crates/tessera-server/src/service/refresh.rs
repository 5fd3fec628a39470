//! The refresh grant (RFC 6749 §6) with rotation, grace window and reuse detection
//! (DESIGN.md §4): core decides, the store applies the decision by compare-and-set, in one
//! store operation; and reuse of a spent token the store no longer holds.

use super::grants::AccessGrant;
use super::{AuthService, Issued, ServiceError};
use crate::metrics::RefreshOutcome;
use crate::store::{ClientRow, Refresh, Refreshed};
use tessera_core::client_access::within_client_scope;
use tessera_core::dpop::{Thumbprint, holds_family_key};
use tessera_core::lifecycle::decide_refresh;
use tessera_core::{Family, GrantType, RefreshDecision, RefreshRejection, RefreshToken, Scope, Timestamp, TokenHash};

/// How far forward the successor chain of an unknown token is followed to find the family it
/// came from (see [`AuthService::pruned_family`]): with the spent tokens a family keeps, reuse
/// of a token up to `SPENT_TOKENS_KEPT + REUSE_HORIZON` rotations old still revokes the family.
const REUSE_HORIZON: usize = 256;

impl AuthService {
    /// RFC 6749 §6 with rotation, grace window and reuse detection (DESIGN.md §4).
    pub async fn refresh_grant(
        &self,
        client: &ClientRow,
        presented: &RefreshToken,
        requested_scope: Option<&Scope>,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::RefreshToken)?;
        let successor = presented.successor(&self.successor_key);
        let (policy, now, client_id) = (self.config.refresh, self.now(), client.client_id.clone());
        let requested_scope = requested_scope.cloned();
        // The client's current registration bounds what its older families may still get;
        // decided before the rotation, so a refusal spends nothing.
        let client_scope = client.scope.clone();
        let proved = dpop.cloned();
        let refresh = Refresh {
            presented: presented.hash(),
            successor: successor.hash(),
            now,
            decide: Box::new(move |found| {
                // RFC 9449 §5: a family bound to a key refreshes only with a proof by that key;
                // refused before anything else is decided, so a thief without the key spends
                // nothing, rotates nothing and revokes nothing.
                if let Some((_, family)) = found
                    && !holds_family_key(family, proved.as_ref())
                {
                    return RefreshDecision::Reject(RefreshRejection::DpopKeyMismatch);
                }
                let decision = decide_refresh(&policy, now, found, &client_id, requested_scope.as_ref());
                within_client_scope(decision, &client_scope)
            }),
        };
        let rejection = match self.store.refresh(refresh).await? {
            Refreshed::Rotated { family, access_scope } => {
                self.metrics.refresh_decision(RefreshOutcome::Rotated);
                return self.reissue(&family, successor, access_scope, now, dpop);
            }
            Refreshed::Replayed { family, access_scope } => {
                self.metrics.refresh_decision(RefreshOutcome::Replayed);
                return self.reissue(&family, successor, access_scope, now, dpop);
            }
            Refreshed::Rejected(RefreshRejection::UnknownToken) => match self.pruned_family(presented).await? {
                // Bound to its client, like a stored one: another client's cannot revoke it.
                // Nor can a thief without the key of a bound family.
                Some(family) if family.client_id == client.client_id && !holds_family_key(&family, dpop) => {
                    self.metrics.refresh_decision(RefreshOutcome::Rejected);
                    RefreshRejection::DpopKeyMismatch
                }
                Some(family) if family.client_id == client.client_id => self.reused(&family).await?,
                _ => {
                    self.metrics.refresh_decision(RefreshOutcome::Rejected);
                    RefreshRejection::UnknownToken
                }
            },
            Refreshed::Rejected(rejection) => {
                self.metrics.refresh_decision(RefreshOutcome::Rejected);
                rejection
            }
            Refreshed::Reused(family) => self.reused(&family).await?,
        };
        Err(rejection.into())
    }

    /// Reuse detected: the whole family is revoked (DESIGN.md §4).
    async fn reused(&self, family: &Family) -> Result<RefreshRejection, ServiceError> {
        self.metrics.refresh_decision(RefreshOutcome::ReuseDetected);
        let detail = self.family_owners(family).await;
        self.audit_quietly(super::audit::AuditAction::ReuseDetected, family.id.as_str(), &detail).await;
        self.revoke_family(family, tessera_core::RevocationReason::ReuseDetected).await?;
        Ok(RefreshRejection::Reused)
    }

    /// The family an unknown token was spent in, if it is one the store pruned (a family keeps
    /// only its last few spent tokens): successors are derived, `HMAC(key, token)`, so the
    /// chain that follows the token can be recomputed, and the first link still stored names
    /// the family. A token that never existed costs `REUSE_HORIZON` HMACs and one read.
    async fn pruned_family(&self, presented: &RefreshToken) -> Result<Option<Family>, ServiceError> {
        let mut chain: Vec<TokenHash> = Vec::with_capacity(REUSE_HORIZON);
        let mut link = presented.successor(&self.successor_key);
        for _ in 0..REUSE_HORIZON {
            chain.push(link.hash());
            link = link.successor(&self.successor_key);
        }
        Ok(self.store.find_family_of_tokens(&chain).await?)
    }

    fn reissue(
        &self,
        family: &Family,
        successor: RefreshToken,
        access_scope: Scope,
        now: Timestamp,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        let access_token = self.mint_access_token(&AccessGrant::of_family(family, &access_scope, dpop), now)?;
        Ok(Issued {
            access_token,
            expires_in: self.expires_in(),
            refresh_token: Some(successor),
            scope: access_scope,
            id_token: None,
            family_id: Some(family.id.clone()),
            cnf: dpop.cloned(),
        })
    }
}
