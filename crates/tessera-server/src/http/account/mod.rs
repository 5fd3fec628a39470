//! The account page, `/account`: any signed-in user sees the applications that hold tokens for
//! them and withdraws one, makes and revokes their personal access tokens, and changes their
//! password. Every handler takes [`SignedIn`] (checked again on every request) and acts on
//! that user only; every POST takes a [`Form`] (the session's anti-CSRF token), writes one
//! audit entry and answers 303 back here with a notice — except a new token, shown once in the
//! POST's own response. Bad input gets the page back (422) with the message by the field.

mod applications;
mod password;
mod tokens;

use super::AppState;
use super::web::timefmt::{minute, minute_or};
use super::web::{Chrome, Section, SignedIn, Visitor, page, redirect};
use crate::http::ApiError;
use crate::service::ServiceError;
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        // A GET of an action's path (back from signing in, say) shows the page.
        .route("/account/applications/revoke", get(back).post(applications::revoke))
        .route("/account/tokens", get(back).post(tokens::create))
        .route("/account/tokens/revoke", get(back).post(tokens::revoke))
        .route("/account/password", get(back).post(password::change))
}

/// The notices an action leaves for the page it redirects to (`/account?done=…`): fixed
/// texts chosen by a fixed key, so nothing typed or secret travels in the URL.
const NOTICES: &[(&str, &str)] = &[
    ("application-revoked", "The application's access was revoked. It will have to ask for your consent again."),
    ("token-revoked", "The personal access token was revoked. It no longer works."),
    ("password-changed", "Your password was changed."),
    (
        "password-changed-others-ended",
        "Your password was changed. Your other sessions were signed out and your applications' refresh tokens revoked.",
    ),
];

/// An application as the page shows it.
struct ApplicationView {
    client_id: String,
    name: String,
    scope: String,
    first_used: String,
    last_used: String,
    families: usize,
    remembered: bool,
}

/// A personal access token as the page shows it (never the token itself).
struct TokenView {
    pat_id: String,
    name: String,
    scope: String,
    created: String,
    expires: String,
    active: bool,
    status: &'static str,
}

/// A token made just now: shown once, in the response to the form that made it.
pub(super) struct Created {
    name: String,
    token: String,
}

/// The personal-access-token form: what was typed and what is wrong with it.
#[derive(Default)]
pub(super) struct TokenForm {
    name: String,
    scope: String,
    expiry: String,
    name_error: Option<String>,
    scope_error: Option<String>,
    expiry_error: Option<String>,
}

impl TokenForm {
    /// Whether `value` is the expiry chosen (askama calls it).
    fn selected(&self, value: &str) -> bool {
        self.expiry == value
    }
}

/// The password form's messages (passwords are never written back into the page).
#[derive(Default)]
pub(super) struct PasswordForm {
    end_others: bool,
    current_error: Option<String>,
    new_error: Option<String>,
    confirm_error: Option<String>,
}

/// Which expiries the token form offers: (value, label).
const EXPIRIES: &[(&str, &str)] =
    &[("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "Never (until revoked)")];

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    applications: Vec<ApplicationView>,
    tokens: Vec<TokenView>,
    created: Option<Created>,
    ceiling: String,
    expiries: &'static [(&'static str, &'static str)],
    token_form: TokenForm,
    password_form: PasswordForm,
    min_password: usize,
}

/// What a render of the page carries besides the user's data.
#[derive(Default)]
pub(super) struct Extras {
    notice: Option<&'static str>,
    created: Option<Created>,
    token_form: TokenForm,
    password_form: PasswordForm,
}

async fn back() -> Response {
    redirect("/account")
}

/// `GET /account`.
async fn show(State(service): State<AppState>, SignedIn(visitor): SignedIn, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let done = params.get("done").map(String::as_str);
    let notice = NOTICES.iter().find(|(key, _)| Some(*key) == done).map(|(_, text)| *text);
    render(&service, &visitor, Extras { notice, ..Extras::default() }, StatusCode::OK).await
}

/// The account page of `visitor` with `extras`, answered with `status`.
pub(super) async fn render(service: &AppState, visitor: &Visitor, extras: Extras, status: StatusCode) -> Response {
    match page_of(service, visitor, extras).await {
        Ok(account) => page(status, &account),
        Err(error) => failure(error),
    }
}

async fn page_of(service: &AppState, visitor: &Visitor, extras: Extras) -> Result<AccountPage, ServiceError> {
    let now = service.now();
    let applications = service
        .applications(&visitor.user.user_id)
        .await?
        .into_iter()
        .map(|application| ApplicationView {
            client_id: application.client_id.as_str().to_owned(),
            name: application.client_name,
            scope: application.scope.to_string(),
            first_used: minute(application.first_used),
            last_used: minute(application.last_used),
            families: application.families,
            remembered: application.remembered,
        })
        .collect();
    let tokens = service
        .own_personal_access_tokens(&visitor.user)
        .await?
        .into_iter()
        .map(|token| {
            let active = token.is_active(now);
            let status = match (active, token.revoked_at) {
                (true, _) => "Active",
                (false, Some(_)) => "Revoked",
                (false, None) => "Expired",
            };
            TokenView {
                pat_id: token.pat_id,
                name: token.name,
                scope: token.scope.to_string(),
                created: minute(token.created_at),
                expires: minute_or(token.expires_at, "Never"),
                active,
                status,
            }
        })
        .collect();
    let ceiling = service.personal_access_token_ceiling().await?.to_string();
    let mut token_form = extras.token_form;
    if token_form.expiry.is_empty() {
        token_form.expiry = "30".into();
    }
    Ok(AccountPage {
        chrome: visitor.chrome("Your account", Section::Account),
        notice: extras.notice,
        applications,
        tokens,
        created: extras.created,
        ceiling,
        expiries: EXPIRIES,
        token_form,
        password_form: extras.password_form,
        min_password: crate::service::account::MIN_PASSWORD_CHARS,
    })
}

/// A failure of ours (the store, say): the RFC error mapping logs it and answers 5xx.
pub(super) fn failure(error: ServiceError) -> Response {
    ApiError::from(error).into_response()
}
