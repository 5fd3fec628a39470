//! Revocation: RFC 7009's endpoint (a client revokes one of its tokens) and the revocation
//! of a whole family, which every other use case that detects a theft calls.

use super::audit::{Actor, AuditAction};
use super::{AuthService, ServiceError};
use crate::store::ClientRow;
use tessera_core::{Family, RevocationReason, Timestamp, TokenHash, TokenTypeHint};

impl AuthService {
    /// Revokes `token` if it belongs to `client`. Unknown tokens, and tokens of other
    /// clients, change nothing and are not reported (RFC 7009 §2.2). The hint only decides
    /// which kind is looked for first (§2.1).
    pub async fn revoke(
        &self,
        client: &ClientRow,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), ServiceError> {
        let refresh_first = hint != Some(TokenTypeHint::AccessToken);
        for attempt_refresh in [refresh_first, !refresh_first] {
            let done = if attempt_refresh {
                self.revoke_refresh_token(client, token).await?
            } else {
                self.revoke_access_token(client, token).await?
            };
            if done {
                break;
            }
        }
        Ok(())
    }

    async fn revoke_refresh_token(&self, client: &ClientRow, token: &str) -> Result<bool, ServiceError> {
        let hash = TokenHash::of(token);
        let Some((_, family)) = self.store.find_refresh_token(&hash).await? else { return Ok(false) };
        if family.client_id == client.client_id {
            self.revoke_family(&family, RevocationReason::RevokedByClient).await?;
        }
        Ok(true)
    }

    async fn revoke_access_token(&self, client: &ClientRow, token: &str) -> Result<bool, ServiceError> {
        let Ok(claims) = self.verify_jwt(token).await else { return Ok(false) };
        if claims.client_id == client.client_id {
            self.store.revoke_access_token(&claims.jti, Timestamp::from_secs(claims.exp)).await?;
            self.revocations.forget_token(&claims.jti);
        }
        Ok(true)
    }

    /// Revokes a family and logs the audit event. Idempotent. This instance's revocation
    /// cache forgets the family at once.
    pub(crate) async fn revoke_family(&self, family: &Family, reason: RevocationReason) -> Result<(), ServiceError> {
        self.revoke_family_by(None, family, reason).await
    }

    /// [`Self::revoke_family`], audited as done by `actor` (an admin on the console) rather
    /// than by the server itself: one audit event either way.
    pub(crate) async fn revoke_family_by(
        &self,
        actor: Option<Actor<'_>>,
        family: &Family,
        reason: RevocationReason,
    ) -> Result<(), ServiceError> {
        let newly = self.store.revoke_family(&family.id, self.now(), reason).await?;
        self.revocations.forget_family(&family.id);
        if newly {
            self.metrics.family_revoked(reason);
            let detail = format!("reason: {} ({reason}); {}", short_reason(reason), self.family_owners(family).await);
            match actor {
                Some(actor) => self.audit(Some(actor), AuditAction::FamilyRevoke, family.id.as_str(), &detail).await?,
                None => self.audit_quietly(AuditAction::FamilyRevoke, family.id.as_str(), &detail).await,
            }
            tracing::warn!(
                target: "tessera::audit",
                event = "family_revoked",
                reason = reason.as_str(),
                client_id = %family.client_id,
                user_id = %family.user_id,
                family_id = %family.id,
                "refresh-token family revoked"
            );
        }
        Ok(())
    }
}

/// The reason of a family revocation as the audit log names it.
fn short_reason(reason: RevocationReason) -> &'static str {
    match reason {
        RevocationReason::ReuseDetected => "reuse",
        RevocationReason::RevokedByClient => "logout",
        RevocationReason::CodeReplayed => "code replay",
        RevocationReason::ConsentRevoked => "consent revoked",
        RevocationReason::UserDisabled => "user disabled",
        RevocationReason::PasswordChanged => "password changed",
        RevocationReason::RevokedByAdmin => "admin",
        RevocationReason::ClientDeleted => "client deletion",
    }
}

impl AuthService {
    /// "client X, user Y" of a family, for the audit log: the username if the user is
    /// still there, else the id.
    pub(crate) async fn family_owners(&self, family: &Family) -> String {
        let user = match self.store.get_user(&family.user_id).await {
            Ok(Some(user)) => user.username,
            _ => family.user_id.to_string(),
        };
        format!("client {}, user {user}", family.client_id)
    }

    /// An event of the server itself (no actor). The token endpoint's answer does not wait
    /// on the audit log's health: a failed write is logged, not returned.
    pub(crate) async fn audit_quietly(&self, action: AuditAction, target: &str, detail: &str) {
        if let Err(error) = self.audit(None, action, target, detail).await {
            tracing::warn!(%error, action = action.as_str(), "could not write an audit event");
        }
    }
}
