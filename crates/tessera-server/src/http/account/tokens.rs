//! `POST /account/tokens` and `POST /account/tokens/revoke`: the user's own personal access
//! tokens. A new one is shown once, in the response to the form that made it; its scope is
//! limited to what this server's applications may be granted.

use super::{Created, Extras, TokenForm, failure, render};
use crate::admin::{AdminError, create_personal_access_token};
use crate::http::AppState;
use crate::http::web::{Form, Section, SignedIn, message, redirect};
use crate::service::ServiceError;
use crate::service::audit::{Actor, AuditAction};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;
use tessera_core::Scope;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The form's expiry choice: `Some(None)` for never, `None` when it is not one offered.
fn expiry(choice: &str) -> Option<Option<Duration>> {
    match choice {
        "never" => Some(None),
        "7" | "30" | "90" | "365" => choice.parse::<u32>().ok().map(|days| Some(DAY * days)),
        _ => None,
    }
}

pub async fn create(State(service): State<AppState>, SignedIn(visitor): SignedIn, form: Form) -> Response {
    let mut typed = TokenForm {
        name: form.get("name").to_owned(),
        scope: form.get("scope").to_owned(),
        expiry: form.get("expiry").to_owned(),
        ..TokenForm::default()
    };
    if typed.name.is_empty() {
        typed.name_error = Some("Give the token a name, so that you can recognise it later.".into());
    } else if typed.name.chars().count() > 100 {
        typed.name_error = Some("The name is too long (100 characters at most).".into());
    }
    let ceiling = match service.personal_access_token_ceiling().await {
        Ok(ceiling) => ceiling,
        Err(error) => return failure(error),
    };
    match Scope::parse(&typed.scope) {
        Err(error) => typed.scope_error = Some(format!("Not a valid scope: {error}.")),
        Ok(scope) if !scope.is_subset_of(&ceiling) => {
            let beyond: Vec<&str> =
                scope.iter().filter(|token| !ceiling.iter().any(|allowed| allowed == *token)).collect();
            typed.scope_error = Some(format!("Not a scope you may have: {}.", beyond.join(" ")));
        }
        Ok(_) => {}
    }
    let lifetime = expiry(&typed.expiry);
    if lifetime.is_none() {
        typed.expiry_error = Some("Choose one of the expiries offered.".into());
    }
    let (None, None, None, Some(lifetime)) = (&typed.name_error, &typed.scope_error, &typed.expiry_error, lifetime)
    else {
        let extras = Extras { token_form: typed, ..Extras::default() };
        return render(&service, &visitor, extras, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let made = create_personal_access_token(
        service.store(),
        service.now(),
        &visitor.user.username,
        &typed.name,
        &typed.scope,
        lifetime,
    )
    .await;
    let (row, token) = match made {
        Ok(made) => made,
        Err(AdminError::Store(error)) => return failure(ServiceError::from(error)),
        Err(AdminError::Random(error)) => return failure(ServiceError::from(error)),
        Err(error) => {
            // The checks above come first; this is what the admin function refused besides.
            typed.name_error = Some(error.to_string());
            let extras = Extras { token_form: typed, ..Extras::default() };
            return render(&service, &visitor, extras, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let expires =
        lifetime.map_or_else(|| "never".to_owned(), |ttl| format!("in {} days", ttl.as_secs() / DAY.as_secs()));
    let detail = format!("name {:?}; scope {:?}; expires {expires}", row.name, row.scope.to_string());
    let actor = Actor { user: &visitor.user, address: visitor.address };
    if let Err(error) = service.audit(Some(actor), AuditAction::PatCreate, &row.pat_id, &detail).await {
        return failure(error);
    }
    let created = Created { name: row.name, token: token.secret().to_owned() };
    render(&service, &visitor, Extras { created: Some(created), ..Extras::default() }, StatusCode::OK).await
}

pub async fn revoke(State(service): State<AppState>, SignedIn(visitor): SignedIn, form: Form) -> Response {
    let pat_id = form.get("pat_id");
    match service.revoke_own_personal_access_token(&visitor.user, pat_id).await {
        Ok(true) => {}
        Ok(false) => {
            let chrome = visitor.chrome("Not found", Section::Account);
            return message(StatusCode::NOT_FOUND, chrome, "You have no active personal access token with that id.");
        }
        Err(error) => return failure(error),
    }
    let actor = Actor { user: &visitor.user, address: visitor.address };
    if let Err(error) = service.audit(Some(actor), AuditAction::PatRevoke, pat_id, "revoked by its owner").await {
        return failure(error);
    }
    redirect("/account?done=token-revoked")
}
