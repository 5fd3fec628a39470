//! `GET /console/audit`: the audit log, newest first, a page at a time ("Older" goes on from
//! the last id shown), filtered by action (one, or a family such as `client.`) and free text
//! (actor, target, detail).

use super::fields::failed;
use crate::http::AppState;
use crate::http::web::timefmt::date_time;
use crate::http::web::{Admin, Chrome, Section, page};
use crate::service::audit::AuditAction;
use crate::store::audit::{AuditQuery, AuditRow};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Events per page.
const PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    action: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    before_id: String,
}

/// One choice of the action filter.
struct Choice {
    value: String,
    label: String,
}

/// One event as the table shows it.
struct EventView {
    at: String,
    actor: String,
    address: String,
    action: String,
    target: String,
    detail: String,
}

impl EventView {
    fn of(row: AuditRow) -> EventView {
        let actor = match row.actor {
            Some(actor) => actor,
            None if row.detail.starts_with("from the command line") => "command line".to_owned(),
            None => String::new(),
        };
        EventView {
            at: date_time(row.at),
            actor,
            address: row.address.unwrap_or_default(),
            action: row.action,
            target: row.target,
            detail: row.detail,
        }
    }

    /// Whether the server itself or the command line did it (no signed-in user).
    fn by_tessera(&self) -> bool {
        self.address.is_empty()
    }

    /// `bad` for the events an admin should look at first, `warn` for removals.
    fn tone(&self) -> &'static str {
        match self.action.as_str() {
            "family.reuse_detected" | "key.revoke" => "bad",
            action if action.ends_with(".revoke") || action.ends_with(".delete") || action.ends_with(".disable") => {
                "warn"
            }
            _ => "",
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    families: Vec<Choice>,
    actions: Vec<Choice>,
    action: String,
    q: String,
    events: Vec<EventView>,
    /// The query string of the next (older) page; empty on the last page.
    older: String,
    /// Whether this is a later page (offer the way back to the newest events).
    paged: bool,
    /// The query string of the first page with the same filter.
    newest: String,
    /// How long events are kept, in days.
    retention: String,
    chrome: Chrome,
}

/// The action families (`client.`, `user.`, …) in the order of [`AuditAction::ALL`].
fn families() -> Vec<String> {
    let mut families: Vec<String> = Vec::new();
    for action in AuditAction::ALL {
        let family = action.as_str().split_once('.').map_or("", |(family, _)| family);
        let family = format!("{family}.");
        if !families.contains(&family) {
            families.push(family);
        }
    }
    families
}

pub async fn show(State(service): State<AppState>, Admin(visitor): Admin, Query(filter): Query<Filter>) -> Response {
    let chrome = visitor.chrome("Audit log", Section::Audit);
    let families = families();
    // Only the choices the select offers; anything else lists every action.
    let known =
        AuditAction::ALL.iter().any(|action| action.as_str() == filter.action) || families.contains(&filter.action);
    let action = if known { filter.action } else { String::new() };
    let q = filter.q.trim().chars().take(200).collect::<String>();
    let before_id = filter.before_id.trim().parse::<i64>().ok().filter(|id| *id > 0);
    let query = AuditQuery {
        action: Some(action.clone()).filter(|action| !action.is_empty()),
        text: Some(q.clone()).filter(|q| !q.is_empty()),
        before_id,
        limit: PAGE + 1,
    };
    let mut rows = match service.audit_log(&query).await {
        Ok(rows) => rows,
        Err(error) => return failed(&visitor, &error),
    };
    let more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    let older = match (more, rows.last()) {
        (true, Some(last)) => serde_urlencoded::to_string([
            ("action", action.as_str()),
            ("q", q.as_str()),
            ("before_id", &last.id.to_string()),
        ])
        .unwrap_or_default(),
        _ => String::new(),
    };
    let newest = serde_urlencoded::to_string([("action", action.as_str()), ("q", q.as_str())]).unwrap_or_default();
    let days = service.config().audit_retention.as_secs() / 86_400;
    let retention = if days == 1 { "1 day".to_owned() } else { format!("{days} days") };
    let events = rows.into_iter().map(EventView::of).collect();
    let families =
        families.into_iter().map(|family| Choice { label: format!("every {family}* action"), value: family }).collect();
    let actions = AuditAction::ALL
        .iter()
        .map(|action| Choice { value: action.as_str().to_owned(), label: action.as_str().to_owned() })
        .collect();
    page(
        StatusCode::OK,
        &AuditPage {
            families,
            actions,
            action,
            q,
            events,
            older,
            paged: before_id.is_some(),
            newest,
            retention,
            chrome,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_belongs_to_a_family_offered() {
        let families = families();
        assert!(families.contains(&"client.".to_owned()) && families.contains(&"family.".to_owned()));
        for action in AuditAction::ALL {
            assert!(families.iter().any(|family| action.as_str().starts_with(family.as_str())), "{action:?}");
        }
        let unique: std::collections::HashSet<_> = families.iter().collect();
        assert_eq!(unique.len(), families.len());
    }
}
