//! What the console's clients, users and sessions pages read and change beyond the rows the
//! protocol needs: live refresh-token families with their client, user and expiries, browser
//! sessions, users by search, and the guarded user update that always leaves an enabled admin.
//! Both backends build the same SQL from here.

use tessera_core::{ClientId, FamilyId, Scope, Timestamp, TokenHash, UserId};

/// Whose live families or browser sessions to list.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Everyone,
    User(&'a UserId),
    Client(&'a ClientId),
}

/// A page of a listing: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    /// `LIMIT … OFFSET …`, from numbers only (never from input text).
    pub(crate) fn sql(self) -> String {
        format!(" LIMIT {} OFFSET {}", self.limit.max(0), self.offset.max(0))
    }
}

/// A refresh-token family that is neither revoked nor expired, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFamilyRow {
    pub family_id: FamilyId,
    pub client_id: ClientId,
    pub client_name: String,
    pub user_id: UserId,
    pub username: String,
    pub scope: Scope,
    pub created_at: Timestamp,
    /// The absolute expiry (the family's lifetime from the lifecycle settings).
    pub expires_at: Timestamp,
    /// When its refresh token was last rotated; `None` if never.
    pub last_refreshed_at: Option<Timestamp>,
    /// When its live refresh token expires unused; `None` for a family without refresh tokens.
    pub idle_expires_at: Option<Timestamp>,
}

/// A live browser session. Its id is the stored hash of the cookie, never the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSessionRow {
    pub session_hash: TokenHash,
    pub user_id: UserId,
    pub username: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The outcome of [`crate::store::Store::update_user_keeping_an_admin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardedUpdate {
    Updated,
    NoSuchUser,
    /// Nothing changed: the user is the last enabled admin and would no longer be one.
    LastAdmin,
}

/// A family is live: not revoked, not past its absolute expiry, and (if it has refresh tokens)
/// holding one that is unused and not idle-expired. `$1` is now.
const LIVE: &str = "f.revoked_at IS NULL AND f.expires_at > $1 \
     AND (NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.family_id) \
          OR EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.family_id \
                     AND t.used_at IS NULL AND t.idle_expires_at > $1))";

/// `AND f.user_id = $2` or the like for `owner`, on the table aliased `alias`.
fn owner_clause(owner: Owner<'_>, alias: &str) -> String {
    match owner {
        Owner::Everyone => String::new(),
        Owner::User(_) => format!(" AND {alias}.user_id = $2"),
        Owner::Client(_) => format!(" AND {alias}.client_id = $2"),
    }
}

impl Owner<'_> {
    /// The value `$2` takes, if the clause has one.
    pub(crate) fn argument(self) -> Option<String> {
        match self {
            Owner::Everyone => None,
            Owner::User(user_id) => Some(user_id.as_str().to_owned()),
            Owner::Client(client_id) => Some(client_id.as_str().to_owned()),
        }
    }
}

/// Live families of `owner`, newest first (`$1` now, `$2` the owner).
pub(crate) fn live_families_sql(owner: Owner<'_>, paging: Paging) -> String {
    format!(
        "SELECT f.family_id, f.client_id, c.name AS client_name, f.user_id, u.username, f.scope, f.created_at, \
                f.expires_at, \
                (SELECT MAX(t.created_at) FROM refresh_tokens t WHERE t.family_id = f.family_id \
                 AND t.generation > 0) AS last_refreshed_at, \
                (SELECT MAX(t.idle_expires_at) FROM refresh_tokens t WHERE t.family_id = f.family_id \
                 AND t.used_at IS NULL) AS idle_expires_at \
         FROM refresh_families f JOIN clients c ON c.client_id = f.client_id JOIN users u ON u.user_id = f.user_id \
         WHERE {LIVE}{} ORDER BY f.created_at DESC, f.family_id{}",
        owner_clause(owner, "f"),
        paging.sql()
    )
}

/// How many live families `owner` has (`$1` now, `$2` the owner).
pub(crate) fn count_live_families_sql(owner: Owner<'_>) -> String {
    format!("SELECT COUNT(*) FROM refresh_families f WHERE {LIVE}{}", owner_clause(owner, "f"))
}

/// Live browser sessions of `owner` (a client has none: it lists everyone's), newest first.
pub(crate) fn browser_sessions_sql(owner: Owner<'_>, paging: Paging) -> String {
    let owner = match owner {
        Owner::User(_) => owner_clause(owner, "s"),
        Owner::Everyone | Owner::Client(_) => String::new(),
    };
    format!(
        "SELECT s.session_hash, s.user_id, u.username, s.created_at, s.expires_at \
         FROM browser_sessions s JOIN users u ON u.user_id = s.user_id \
         WHERE s.expires_at > $1{owner} ORDER BY s.created_at DESC, s.session_hash{}",
        paging.sql()
    )
}

/// The browser sessions' owner argument: only a user narrows them.
pub(crate) fn browser_sessions_argument(owner: Owner<'_>) -> Option<String> {
    match owner {
        Owner::User(_) => owner.argument(),
        Owner::Everyone | Owner::Client(_) => None,
    }
}

/// Users whose username, email or name contain `search` (`$1`, a LIKE pattern), by username.
pub(crate) fn users_sql(search: bool, paging: Paging) -> String {
    let condition = if search {
        " WHERE lower(username) LIKE $1 ESCAPE '\\' OR lower(coalesce(email, '')) LIKE $1 ESCAPE '\\' \
          OR lower(coalesce(name, '')) LIKE $1 ESCAPE '\\'"
    } else {
        ""
    };
    format!("SELECT {} FROM users{condition} ORDER BY username{}", super::rows::USER_COLUMNS, paging.sql())
}

/// `%text%`, lower-cased, with LIKE's own characters taken literally (`ESCAPE '\'`).
pub(crate) fn contains_pattern(text: &str) -> String {
    format!("%{}%", escape_like(&text.to_lowercase()))
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Every sign-in counter of `username`: the one from everywhere (`* name`) and one per
/// address (`ADDRESS name`); neither usernames nor address keys hold spaces.
pub(crate) const CLEAR_THROTTLE_SQL: &str = "DELETE FROM sign_in_attempts WHERE counter LIKE $1 ESCAPE '\\'";

pub(crate) fn throttle_pattern(username: &str) -> String {
    format!("% {}", escape_like(username))
}

/// The guarded update's decision, the same on both backends: `current` is the user's row as
/// it is (`None`: no such user), `other_admins` the enabled admins besides them.
pub(crate) fn guard(current: Option<(bool, bool)>, new: &crate::store::UserRow, other_admins: i64) -> GuardedUpdate {
    let Some((is_admin, disabled)) = current else { return GuardedUpdate::NoSuchUser };
    let was_enabled_admin = is_admin && !disabled;
    let stays_enabled_admin = new.is_admin && !new.disabled;
    if was_enabled_admin && !stays_enabled_admin && other_admins == 0 {
        GuardedUpdate::LastAdmin
    } else {
        GuardedUpdate::Updated
    }
}
