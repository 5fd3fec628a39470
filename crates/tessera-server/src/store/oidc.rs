//! Rows of the OpenID Connect tables (migration 0008): remembered consent, and how the user
//! behind a code or a family signed in (for the id token's `auth_time`, `nonce`, `sid`).

use tessera_core::{ClientId, FamilyId, Scope, Timestamp, UserId};

/// A user's remembered approval of a client (OpenID Connect Core §3.1.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub user_id: UserId,
    pub client_id: ClientId,
    /// The client's name, for the account page (ignored when writing).
    pub client_name: String,
    pub scope: Scope,
    pub granted_at: Timestamp,
}

/// How the user behind an authorization code signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSignInRow {
    /// Echoed in the id token (Core §3.1.2.1).
    pub nonce: Option<String>,
    pub auth_time: Timestamp,
    pub sid: String,
}

/// How the user behind a token family signed in, kept for the id tokens of its refreshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilySignInRow {
    pub family_id: FamilyId,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub auth_time: Timestamp,
    /// The browser session (absent for the password grant).
    pub sid: Option<String>,
    /// The family began at the consent page: withdrawing the consent revokes it.
    pub consented: bool,
}
