//! `POST /account/password`: the user changes their password. The current one is checked like
//! a sign-in (the same verifier, counted by the same throttle); the new one, typed twice,
//! must meet the policy. Optionally every other browser session of the user ends and every
//! refresh-token family is revoked; the session in use stays signed in.

use super::{Extras, PasswordForm, failure, render};
use crate::http::AppState;
use crate::http::web::{Form, SignedIn, redirect};
use crate::service::account::{MIN_PASSWORD_CHARS, PasswordChange};
use crate::service::audit::{Actor, AuditAction};
use crate::service::describe_wait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::Password;

/// The longest password accepted (Argon2 takes any length; this bounds the work per request).
const MAX_PASSWORD_CHARS: usize = 1024;

pub async fn change(State(service): State<AppState>, SignedIn(visitor): SignedIn, form: Form) -> Response {
    let current = form.raw("current_password").unwrap_or_default();
    let new = form.raw("new_password").unwrap_or_default();
    let confirm = form.raw("confirm_password").unwrap_or_default();
    let mut typed = PasswordForm { end_others: form.checked("end_others"), ..PasswordForm::default() };
    if current.is_empty() {
        typed.current_error = Some("Enter your current password.".into());
    }
    let length = new.chars().count();
    if new.is_empty() {
        typed.new_error = Some("The new password must not be empty.".into());
    } else if length < MIN_PASSWORD_CHARS {
        typed.new_error = Some(format!("The new password is too short: use at least {MIN_PASSWORD_CHARS} characters."));
    } else if length > MAX_PASSWORD_CHARS {
        typed.new_error = Some(format!("The new password is too long: use at most {MAX_PASSWORD_CHARS} characters."));
    } else if new != confirm {
        typed.confirm_error = Some("The two new passwords differ: type the same one twice.".into());
    }
    if typed.current_error.is_some() || typed.new_error.is_some() || typed.confirm_error.is_some() {
        return again(&service, &visitor, typed, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (current, new) = (Password::new(current.to_owned()), Password::new(new.to_owned()));
    let end_others = typed.end_others;
    let changed =
        service.change_password(&visitor.user, &visitor.session, current, new, end_others, visitor.address).await;
    let (sessions, families) = match changed {
        Ok(PasswordChange::Changed { sessions, families }) => (sessions, families),
        Ok(PasswordChange::WrongCurrent) => {
            typed.current_error = Some("The current password is incorrect.".into());
            return again(&service, &visitor, typed, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Ok(PasswordChange::Throttled { retry_after }) => {
            let wait = describe_wait(retry_after);
            typed.current_error = Some(format!("Too many failed attempts; try again in {wait}."));
            let page = again(&service, &visitor, typed, StatusCode::TOO_MANY_REQUESTS).await;
            return crate::http::error::with_retry_after(page, retry_after);
        }
        Ok(PasswordChange::Busy) => {
            typed.current_error = Some("The server is busy; try again in a moment.".into());
            return again(&service, &visitor, typed, StatusCode::SERVICE_UNAVAILABLE).await;
        }
        Err(error) => return failure(error),
    };
    let detail = if end_others {
        format!("{sessions} other browser sessions ended; {families} refresh-token families revoked")
    } else {
        "other sessions and applications kept".to_owned()
    };
    let actor = Actor { user: &visitor.user, address: visitor.address };
    if let Err(error) = service.audit(Some(actor), AuditAction::PasswordChange, &visitor.user.username, &detail).await {
        return failure(error);
    }
    // The form's action names its section (so that a refusal shows it); the notice is at the top.
    redirect(if end_others {
        "/account?done=password-changed-others-ended#notice"
    } else {
        "/account?done=password-changed#notice"
    })
}

async fn again(
    service: &AppState,
    visitor: &crate::http::web::Visitor,
    typed: PasswordForm,
    status: StatusCode,
) -> Response {
    render(service, visitor, Extras { password_form: typed, ..Extras::default() }, status).await
}
