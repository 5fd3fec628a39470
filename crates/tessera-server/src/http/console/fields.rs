//! What the console's clients, users and sessions pages share: field errors next to their
//! inputs, times as people read them, paging, the audit entry every action writes, and the
//! page shown when something unexpected fails.

use crate::http::AppState;
use crate::http::web::{Form, Visitor, message, redirect};
use crate::service::audit::{Actor, AuditAction};
use axum::http::StatusCode;
use axum::response::Response;

/// Rows per page of a listing.
pub const PAGE_SIZE: i64 = 50;

/// Messages for the fields of a form that was refused, by field name.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn one(field: &'static str, text: impl Into<String>) -> Self {
        FieldErrors(vec![(field, text.into())])
    }

    /// The message for `field`, empty when it has none (askama calls it).
    pub fn get(&self, field: &str) -> &str {
        self.0.iter().find(|(name, _)| *name == field).map_or("", |(_, text)| text.as_str())
    }

    /// `aria-invalid` for `field`'s input.
    pub fn invalid(&self, field: &str) -> &'static str {
        if self.get(field).is_empty() { "false" } else { "true" }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The page number of `?page=N` (from 1) and the offset it starts at.
pub fn page_number(page: Option<&str>) -> (i64, i64) {
    let page = page.and_then(|page| page.parse::<i64>().ok()).unwrap_or(1).clamp(1, 10_000);
    (page, (page - 1) * PAGE_SIZE)
}

/// Writes the action's audit entry (actor: the visitor, from their address).
pub async fn audit(
    service: &AppState,
    visitor: &Visitor,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> Result<(), Response> {
    let actor = Actor { user: &visitor.user, address: visitor.address };
    service.audit(Some(actor), action, target, detail).await.map_err(|error| failed(visitor, &error))
}

/// Something that should not fail did (the database, say): logged, and a 500 page that
/// says so without the details.
pub fn failed(visitor: &Visitor, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "a console page or action failed");
    let chrome = visitor.chrome("Something went wrong", crate::http::web::Section::None);
    message(StatusCode::INTERNAL_SERVER_ERROR, chrome, "The server could not do this; the error has been logged.")
}

/// 404 for a client, user or session that is not there (any more).
pub fn not_found(visitor: &Visitor, what: &str) -> Response {
    let chrome = visitor.chrome("Not found", crate::http::web::Section::None);
    message(StatusCode::NOT_FOUND, chrome, &format!("There is no such {what}; it may have been deleted."))
}

/// After an action, back to the console page the form names in `back` (a console path, so
/// never another site), else to `default`.
pub fn back(form: &Form, default: &str) -> Response {
    let back = form.get("back");
    let local = back.starts_with("/console")
        && !back.starts_with("//")
        && !back.contains('\\')
        && !back.chars().any(char::is_control);
    redirect(if local { back } else { default })
}

/// The lines of a textarea, trimmed, blank ones left out.
pub fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// Paths in links: a value URL-encoded for a path segment or query.
pub fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap_or_default().trim_start_matches('=').to_owned()
}
