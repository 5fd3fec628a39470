//! Rows of the audit log (migration 0014), and the query the console pages it with.

use tessera_core::{Timestamp, UserId};

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Assigned by the database (ignored when writing); newer events have larger ids.
    pub id: i64,
    pub at: Timestamp,
    /// Who did it; `None` for the server itself (reuse detection) or the command line.
    pub actor_id: Option<UserId>,
    /// The actor's username when it happened.
    pub actor: Option<String>,
    /// The address the actor's request came from.
    pub address: Option<String>,
    /// What happened, as a dotted name (`client.delete`, `family.revoke`, …).
    pub action: String,
    /// What it happened to (a client id, a username, a key id, a family id).
    pub target: String,
    /// Free text: the reason, the counts, the changed fields. Never a secret.
    pub detail: String,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this action, or with a trailing `.`, this family of actions (`client.`).
    pub action: Option<String>,
    /// Only events whose actor, target or detail contain this text (case-insensitive).
    pub text: Option<String>,
    /// Only events older than this id (the next page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl AuditQuery {
    /// The `WHERE` clause and its text arguments, in order, with placeholders from
    /// `placeholder(n)` (1-based): both backends build the same query.
    pub(crate) fn conditions(&self, placeholder: impl Fn(usize) -> String) -> (String, Vec<String>) {
        let mut clauses = Vec::new();
        let mut arguments = Vec::new();
        if let Some(action) = self.action.as_deref().filter(|action| !action.is_empty()) {
            arguments.push(action.to_owned());
            if action.ends_with('.') {
                clauses.push(format!("substr(action, 1, {}) = {}", action.len(), placeholder(arguments.len())));
            } else {
                clauses.push(format!("action = {}", placeholder(arguments.len())));
            }
        }
        if let Some(text) = self.text.as_deref().filter(|text| !text.is_empty()) {
            let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            arguments.push(format!("%{escaped}%"));
            let like = placeholder(arguments.len());
            clauses.push(format!(
                "(lower(coalesce(actor, '')) LIKE {like} ESCAPE '\\' OR lower(target) LIKE {like} ESCAPE '\\' \
                 OR lower(detail) LIKE {like} ESCAPE '\\')"
            ));
        }
        if let Some(before) = self.before_id {
            clauses.push(format!("id < {before}"));
        }
        let condition = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        (condition, arguments)
    }
}

/// The columns every audit query reads.
pub(crate) const AUDIT_COLUMNS: &str = "id, at, actor_id, actor, address, action, target, detail";
