//! The audit log entries of the `tessera` command line: it has no service and no signed-in
//! user, so it writes through the store with no actor and says where it came from.

use crate::service::audit::AuditAction;
use crate::store::audit::AuditRow;
use crate::store::{Store, StoreError};
use tessera_core::Timestamp;

/// Records that the command line did `action` to `target`; `detail` must hold no secret.
pub async fn audit_command_line(
    store: &Store,
    now: Timestamp,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let detail =
        if detail.is_empty() { "from the command line".to_owned() } else { format!("from the command line: {detail}") };
    store.insert_audit(&unattended(now, action, target, detail)).await
}

/// An audit entry with no actor: the server itself (the janitor, say) or the command line.
pub fn unattended(at: Timestamp, action: AuditAction, target: &str, detail: String) -> AuditRow {
    AuditRow {
        id: 0,
        at,
        actor_id: None,
        actor: None,
        address: None,
        action: action.as_str().to_owned(),
        target: target.to_owned(),
        detail,
    }
}
