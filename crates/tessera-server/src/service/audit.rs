//! The audit log as the service writes and reads it: which events are audited
//! ([`AuditAction`]) and who did them ([`Actor`]). The console's audit page lists them.

use super::{AuthService, ServiceError};
use crate::store::UserRow;
use crate::store::audit::{AuditQuery, AuditRow};
use std::net::IpAddr;

/// Every kind of audited event, named `area.verb` in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    ClientCreate,
    ClientUpdate,
    ClientRotateSecret,
    ClientDelete,
    UserCreate,
    /// A user's profile or flags changed (`tessera user update`).
    UserUpdate,
    UserSetPassword,
    UserDisable,
    UserEnable,
    UserClearThrottle,
    UserGrantAdmin,
    UserRevokeAdmin,
    /// A refresh-token family revoked (the detail says why: reuse, logout, admin, …).
    FamilyRevoke,
    /// A browser session ended by an admin.
    SessionEnd,
    KeyRotate,
    KeyRevoke,
    /// A spent refresh token presented again (RFC 9700 §4.14.2).
    ReuseDetected,
    PatCreate,
    PatRevoke,
    /// A user withdrew an application's access on the account page.
    ConsentRevoke,
    /// A user changed their own password.
    PasswordChange,
    /// Old events deleted by the janitor.
    AuditPurge,
}

impl AuditAction {
    pub const ALL: &[AuditAction] = &[
        AuditAction::ClientCreate,
        AuditAction::ClientUpdate,
        AuditAction::ClientRotateSecret,
        AuditAction::ClientDelete,
        AuditAction::UserCreate,
        AuditAction::UserUpdate,
        AuditAction::UserSetPassword,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::UserClearThrottle,
        AuditAction::UserGrantAdmin,
        AuditAction::UserRevokeAdmin,
        AuditAction::FamilyRevoke,
        AuditAction::SessionEnd,
        AuditAction::KeyRotate,
        AuditAction::KeyRevoke,
        AuditAction::ReuseDetected,
        AuditAction::PatCreate,
        AuditAction::PatRevoke,
        AuditAction::ConsentRevoke,
        AuditAction::PasswordChange,
        AuditAction::AuditPurge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ClientCreate => "client.create",
            AuditAction::ClientUpdate => "client.update",
            AuditAction::ClientRotateSecret => "client.rotate_secret",
            AuditAction::ClientDelete => "client.delete",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserSetPassword => "user.set_password",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::UserClearThrottle => "user.clear_throttle",
            AuditAction::UserGrantAdmin => "user.grant_admin",
            AuditAction::UserRevokeAdmin => "user.revoke_admin",
            AuditAction::FamilyRevoke => "family.revoke",
            AuditAction::SessionEnd => "session.end",
            AuditAction::KeyRotate => "key.rotate",
            AuditAction::KeyRevoke => "key.revoke",
            AuditAction::ReuseDetected => "family.reuse_detected",
            AuditAction::PatCreate => "pat.create",
            AuditAction::PatRevoke => "pat.revoke",
            AuditAction::ConsentRevoke => "consent.revoke",
            AuditAction::PasswordChange => "account.change_password",
            AuditAction::AuditPurge => "audit.purge",
        }
    }
}

/// Who did an audited thing: a signed-in user, from an address.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user: &'a UserRow,
    pub address: IpAddr,
}

impl AuthService {
    /// Appends an event to the audit log; `actor` is `None` for the server itself.
    /// `detail` is shown to admins as it is: never put a secret in it.
    pub async fn audit(
        &self,
        actor: Option<Actor<'_>>,
        action: AuditAction,
        target: &str,
        detail: &str,
    ) -> Result<(), ServiceError> {
        let entry = AuditRow {
            id: 0,
            at: self.now(),
            actor_id: actor.map(|actor| actor.user.user_id.clone()),
            actor: actor.map(|actor| actor.user.username.clone()),
            address: actor.map(|actor| actor.address.to_string()),
            action: action.as_str().to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        self.store.insert_audit(&entry).await?;
        Ok(())
    }

    /// The audit events `query` selects, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, ServiceError> {
        Ok(self.store.list_audit(query).await?)
    }
}
