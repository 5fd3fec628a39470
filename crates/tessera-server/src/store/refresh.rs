//! One refresh as the store applies it ([`Store::refresh`](super::Store::refresh)): the
//! presented token read with its family, the caller's decision, and the compare-and-set with
//! the successor's insert, in one operation; and the bound on the rows one family keeps.

use tessera_core::{Family, RefreshDecision, RefreshRejection, Scope, StoredRefreshToken, Timestamp, TokenHash};

/// Spent refresh tokens a family keeps, newest first, beside its live token: a family holds at
/// most `SPENT_TOKENS_KEPT + 1` rows however often it is refreshed (issue 10, item 4). Older
/// spent tokens are deleted as the family rotates; reuse of one of them is still recognised
/// by walking the successor chain forward (see `service/refresh.rs`, ARCHITECTURE.md).
pub const SPENT_TOKENS_KEPT: i64 = 8;

/// At most this many older spent tokens (a family started by an earlier release may hold
/// thousands) are deleted by one rotation, so that no rotation holds the writer long; a new
/// family loses exactly one per rotation.
pub(crate) const PRUNED_PER_ROTATION: i64 = 64;

/// Decides what presenting the token does, given its stored state and family (`None`: the
/// store knows no such token). The service builds it around core's pure `decide_refresh`; the
/// store calls it inside the operation that applies it, so that on SQLite the read, the
/// decision and the write are one writer operation with no race to lose. PostgreSQL may call
/// it again after losing a compare-and-set to another instance.
pub type RefreshDecider =
    Box<dyn for<'f> Fn(Option<(&'f StoredRefreshToken, &'f Family)>) -> RefreshDecision<'f> + Send + Sync>;

/// One refresh for [`Store::refresh`](super::Store::refresh).
pub struct Refresh {
    /// The token presented (its hash), to be marked used.
    pub presented: TokenHash,
    /// Its successor (the hash of HMAC(key, token)), inserted if the decision is to rotate.
    pub successor: TokenHash,
    pub now: Timestamp,
    pub decide: RefreshDecider,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresh").field("now", &self.now).finish_non_exhaustive()
    }
}

/// What [`Store::refresh`](super::Store::refresh) did: core's decision, owned, after the
/// store applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The token was marked used and its successor inserted (the compare-and-set won).
    Rotated { family: Family, access_scope: Scope },
    /// A replay inside the grace window: nothing changed; answer with the same successor.
    Replayed { family: Family, access_scope: Scope },
    /// Refused; nothing changed.
    Rejected(RefreshRejection),
    /// Reuse of a spent token: the caller revokes the family, then refuses.
    Reused(Family),
}

impl Refreshed {
    /// The decision as the caller sees it once applied; `rotated` says whether a `Rotate`
    /// decision's compare-and-set won (`None`: lost, decide again on a fresh read).
    pub(crate) fn applied(decision: RefreshDecision<'_>, rotated: bool) -> Option<Refreshed> {
        Some(match decision {
            RefreshDecision::Rotate { family, access_scope, .. } if rotated => {
                Refreshed::Rotated { family: family.clone(), access_scope }
            }
            RefreshDecision::Rotate { .. } => return None,
            RefreshDecision::Replay { family, access_scope } => {
                Refreshed::Replayed { family: family.clone(), access_scope }
            }
            RefreshDecision::Reject(rejection) => Refreshed::Rejected(rejection),
            RefreshDecision::RevokeFamily(family) => Refreshed::Reused(family.clone()),
        })
    }
}

/// Rows deleted per statement when a client's families go (`delete_client`), each batch its
/// own short write, so that no single statement cascades through a large client's tokens.
pub(crate) const DELETE_BATCH: i64 = 1_000;

/// A client's refresh tokens, then its families, a batch (`$2`) at a time, for client `$1`;
/// each is repeated until it deletes fewer than a batch, before the client row itself goes.
/// Written once for both backends (SQLite reads `$n` as `?n`).
pub(crate) const CLIENT_ROWS_IN_BATCHES: [&str; 2] = [
    "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT t.token_hash FROM refresh_tokens t \
     JOIN refresh_families f ON f.family_id = t.family_id WHERE f.client_id = $1 LIMIT $2)",
    "DELETE FROM refresh_families WHERE family_id IN \
     (SELECT family_id FROM refresh_families WHERE client_id = $1 LIMIT $2)",
];

/// Pending (unused) authorization codes one user may hold at once; a new code beyond them
/// deletes the oldest (issue 10, item 4). A browser session belongs to one user, so this
/// bounds a session's codes too; used codes stay until the janitor takes them, since a
/// replayed one must still revoke what it started, and each used one started a family.
pub(crate) const PENDING_CODES_PER_USER: i64 = 16;

/// Deletes user `$1`'s pending codes but the code `$2` just inserted and the `$3` newest
/// others (bound to `PENDING_CODES_PER_USER - 1`), at most 64 at a time.
pub(crate) const CAP_PENDING_CODES: &str = "DELETE FROM authorization_codes WHERE code_hash IN ( \
     SELECT code_hash FROM authorization_codes WHERE user_id = $1 AND used_at IS NULL AND code_hash <> $2 \
     ORDER BY created_at DESC, code_hash LIMIT 64 OFFSET $3)";
