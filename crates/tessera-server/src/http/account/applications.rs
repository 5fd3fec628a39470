//! `POST /account/applications/revoke`: the user withdraws an application's access — its
//! refresh-token families (all of them, however they began) and its remembered consent go.

use super::failure;
use crate::http::AppState;
use crate::http::web::{Form, SignedIn, message, redirect};
use crate::service::audit::{Actor, AuditAction};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub async fn revoke(State(service): State<AppState>, SignedIn(visitor): SignedIn, form: Form) -> Response {
    let client_id = form.get("client_id").into();
    let withdrawn = match service.withdraw_application(&visitor.user.user_id, &client_id).await {
        Ok(Some(withdrawn)) => withdrawn,
        Ok(None) => {
            let chrome = visitor.chrome("Not found", crate::http::web::Section::Account);
            return message(StatusCode::NOT_FOUND, chrome, "You have no application with that id.");
        }
        Err(error) => return failure(error),
    };
    let detail = format!(
        "{} refresh-token families revoked; remembered consent {}",
        withdrawn.families,
        if withdrawn.consent { "forgotten" } else { "none" }
    );
    let actor = Actor { user: &visitor.user, address: visitor.address };
    if let Err(error) = service.audit(Some(actor), AuditAction::ConsentRevoke, client_id.as_str(), &detail).await {
        return failure(error);
    }
    redirect("/account?done=application-revoked")
}
