//! Rows of the account page (`/account`, migration 0017): a user's own live refresh-token
//! families with their clients' names, for the applications that hold tokens for them.

use tessera_core::{ClientId, FamilyId, Scope, Timestamp};

/// One live (unrevoked, unexpired) family of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFamilyRow {
    pub family_id: FamilyId,
    pub client_id: ClientId,
    pub client_name: String,
    pub scope: Scope,
    pub created_at: Timestamp,
    /// When the family's newest refresh token was issued (its first, or its latest rotation);
    /// `None` for a family without refresh tokens.
    pub last_used_at: Option<Timestamp>,
}

/// The live families of a user, oldest first. `$1` is the user, `$2` the time now; the
/// placeholders are written `$n` for PostgreSQL and turned into `?n` for SQLite.
pub(crate) const USER_FAMILIES: &str = "SELECT f.family_id, f.client_id, c.name AS client_name, f.scope, f.created_at, \
     (SELECT MAX(t.created_at) FROM refresh_tokens t WHERE t.family_id = f.family_id) AS last_used_at \
     FROM refresh_families f JOIN clients c ON c.client_id = f.client_id \
     WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > $2 \
     ORDER BY f.created_at, f.family_id";
