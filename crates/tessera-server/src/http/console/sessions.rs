//! `/console/sessions`: the live refresh-token families (everyone's, a user's with `?user=`,
//! a client's with `?client=`) with revoke, and the live browser sessions with end.

use super::fields::{PAGE_SIZE, audit, back, encode, failed, not_found, page_number};
use crate::http::AppState;
use crate::http::web::timefmt::{minute, minute_or};
use crate::http::web::{Admin, Chrome, Form, Section, page};
use crate::service::audit::{Actor, AuditAction};
use crate::store::console::{BrowserSessionRow, LiveFamilyRow, Owner, Paging};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tessera_core::{ClientId, FamilyId, TokenHash, UserId};

/// A live family as the table shows it.
struct FamilyLine {
    row: LiveFamilyRow,
    created: String,
    last_refreshed: String,
    idle_expires: String,
    expires: String,
}

/// A browser session as the table shows it.
struct SessionLine {
    row: BrowserSessionRow,
    /// The visitor's own browser.
    current: bool,
    started: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "console/sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    /// What the page is narrowed to ("" for everyone), for its heading and links.
    scope_note: String,
    /// This page's own path and query, where the actions come back to.
    here: String,
    /// The query that keeps the filter across pages (`user=…&` or `client=…&`).
    filter: String,
    families: Vec<FamilyLine>,
    sessions: Vec<SessionLine>,
    show_sessions: bool,
    page: i64,
    more: bool,
}

pub async fn list(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (number, offset) = page_number(query.get("page").map(String::as_str));
    let user_id = query.get("user").filter(|id| !id.is_empty()).map(|id| UserId::new(id.clone()));
    let client_id = query.get("client").filter(|id| !id.is_empty()).map(|id| ClientId::new(id.clone()));
    let (owner, scope_note, filter) = match (&user_id, &client_id) {
        (Some(user_id), _) => match service.user_by_id(user_id).await {
            Ok(Some(user)) => (
                Owner::User(user_id),
                format!("of the user {}", user.username),
                format!("user={}&", encode(user_id.as_str())),
            ),
            Ok(None) => return not_found(&visitor, "user"),
            Err(error) => return failed(&visitor, &error),
        },
        (None, Some(client_id)) => match service.client_with_logout_uris(client_id).await {
            Ok(Some((client, _))) => (
                Owner::Client(client_id),
                format!("of the client {}", client.name),
                format!("client={}&", encode(client_id.as_str())),
            ),
            Ok(None) => return not_found(&visitor, "client"),
            Err(error) => return failed(&visitor, &error),
        },
        (None, None) => (Owner::Everyone, String::new(), String::new()),
    };
    let paging = Paging { limit: PAGE_SIZE + 1, offset };
    let mut families = match service.live_families(owner, paging).await {
        Ok(families) => families,
        Err(error) => return failed(&visitor, &error),
    };
    let show_sessions = !matches!(owner, Owner::Client(_));
    let mut sessions = if show_sessions {
        match service.browser_sessions(owner, paging).await {
            Ok(sessions) => sessions,
            Err(error) => return failed(&visitor, &error),
        }
    } else {
        Vec::new()
    };
    let more = families.len() as i64 > PAGE_SIZE || sessions.len() as i64 > PAGE_SIZE;
    families.truncate(PAGE_SIZE as usize);
    sessions.truncate(PAGE_SIZE as usize);
    let families = families
        .into_iter()
        .map(|row| FamilyLine {
            created: minute(row.created_at),
            last_refreshed: minute_or(row.last_refreshed_at, "never"),
            idle_expires: minute_or(row.idle_expires_at, "—"),
            expires: minute(row.expires_at),
            row,
        })
        .collect();
    let own = TokenHash::of(&visitor.session);
    let sessions = sessions
        .into_iter()
        .map(|row| SessionLine {
            started: minute(row.created_at),
            expires: minute(row.expires_at),
            current: row.session_hash == own,
            row,
        })
        .collect();
    let here = format!("/console/sessions?{filter}page={number}");
    let chrome = visitor.chrome("Sessions", Section::Sessions);
    page(
        StatusCode::OK,
        &SessionsPage { chrome, scope_note, here, filter, families, sessions, show_sessions, page: number, more },
    )
}

pub async fn revoke_family(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(family_id): Path<String>,
    form: Form,
) -> Response {
    // The service writes the one audit event (family.revoke, reason admin, by this admin).
    let admin = Actor { user: &visitor.user, address: visitor.address };
    match service.revoke_family_by_admin(admin, &FamilyId::new(family_id)).await {
        Ok(Some(_)) => back(&form, "/console/sessions"),
        Ok(None) => not_found(&visitor, "live family"),
        Err(error) => failed(&visitor, &error),
    }
}

pub async fn end_session(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(session_hash): Path<String>,
    form: Form,
) -> Response {
    let user = match service.end_browser_session(&session_hash).await {
        Ok(Some(user)) => user,
        Ok(None) => return not_found(&visitor, "browser session"),
        Err(error) => return failed(&visitor, &error),
    };
    if let Err(response) =
        audit(&service, &visitor, AuditAction::SessionEnd, &user.username, "browser session ended").await
    {
        return response;
    }
    back(&form, "/console/sessions")
}
