//! `/console/keys`: the signing keys (active, retired, revoked), rotate, revoke. Each change
//! is audited with the admin as actor and this instance re-reads its keys at once; the others
//! do within the key-refresh interval. Revoking the only active key is refused unless a new
//! key is rotated in first (the same rule as `tessera keys revoke`).

use super::fields::failed;
use crate::admin::AdminError;
use crate::http::AppState;
use crate::http::web::timefmt::date_time;
use crate::http::web::{Admin, Chrome, Form, Section, Visitor, page, redirect};
use crate::service::audit::Actor;
use crate::store::SigningKeyRow;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_core::KeyState;

/// One key as the table shows it.
struct KeyView {
    kid: String,
    algorithm: String,
    /// `active`, `retired` or `revoked`.
    state: &'static str,
    badge: &'static str,
    created: String,
    retired: String,
    revoked: String,
}

impl KeyView {
    fn of(row: &SigningKeyRow) -> KeyView {
        let state = row.state();
        let badge = match state {
            KeyState::Active => "ok",
            KeyState::Retired { .. } => "warn",
            KeyState::Revoked { .. } => "bad",
        };
        KeyView {
            kid: row.kid.clone(),
            algorithm: row.algorithm.clone(),
            state: state.name(),
            badge,
            created: date_time(row.created_at),
            retired: row.retired_at.filter(|_| row.revoked_at.is_none()).map(date_time).unwrap_or_default(),
            revoked: row.revoked_at.map(date_time).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<KeyView>,
    /// After an action: what happened.
    done: String,
    /// A refused action: why.
    error: String,
    /// The key the refusal is about.
    error_kid: String,
}

/// What the page says after an action (POST/redirect/GET).
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    rotated: Option<String>,
    #[serde(default)]
    revoked: Option<String>,
}

async fn render(
    service: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    done: String,
    refusal: (String, String),
) -> Response {
    let chrome = visitor.chrome("Signing keys", Section::Keys);
    match service.signing_keys().await {
        Ok(rows) => {
            let keys = rows.iter().map(KeyView::of).collect();
            page(status, &KeysPage { chrome, keys, done, error: refusal.0, error_kid: refusal.1 })
        }
        Err(error) => failed(visitor, &error),
    }
}

pub async fn show(State(service): State<AppState>, Admin(visitor): Admin, Query(done): Query<Done>) -> Response {
    let said = match (done.rotated, done.revoked) {
        (Some(kid), None) => format!("Rotated: {kid} now signs new tokens; the previous keys are retired."),
        (None, Some(kid)) => format!("Revoked {kid}: it is gone from JWKS, and tokens it signed are refused."),
        _ => String::new(),
    };
    render(&service, &visitor, StatusCode::OK, said, Default::default()).await
}

fn actor(visitor: &Visitor) -> Actor<'_> {
    Actor { user: &visitor.user, address: visitor.address }
}

pub async fn rotate(State(service): State<AppState>, Admin(visitor): Admin, _form: Form) -> Response {
    match service.rotate_signing_key(actor(&visitor)).await {
        Ok(row) => redirect(&format!("/console/keys?{}", query("rotated", &row.kid))),
        Err(error) => failed(&visitor, &error),
    }
}

pub async fn revoke(State(service): State<AppState>, Admin(visitor): Admin, form: Form) -> Response {
    let kid = form.get("kid").to_owned();
    match service.revoke_signing_key(actor(&visitor), &kid, form.checked("rotate_first")).await {
        Ok(Ok(_)) => redirect(&format!("/console/keys?{}", query("revoked", &kid))),
        Ok(Err(refusal)) => {
            let (status, text) = match &refusal {
                AdminError::NoSuchSigningKey(_) => (StatusCode::NOT_FOUND, format!("There is no signing key {kid:?}.")),
                AdminError::SigningKeyAlreadyRevoked(_) => (StatusCode::CONFLICT, format!("{kid} is already revoked.")),
                AdminError::OnlyActiveSigningKey(_) => (
                    StatusCode::CONFLICT,
                    format!(
                        "{kid} is the only active key: revoking it would leave nothing to sign tokens with. \
                         Nothing was changed. Rotate first, or tick \u{201c}Rotate a new key in first\u{201d}."
                    ),
                ),
                other => (StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
            };
            render(&service, &visitor, status, String::new(), (text, kid)).await
        }
        Err(error) => failed(&visitor, &error),
    }
}

fn query(name: &str, value: &str) -> String {
    serde_urlencoded::to_string([(name, value)]).unwrap_or_default()
}
