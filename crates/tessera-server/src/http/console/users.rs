//! `/console/users`: list and search users, create one, set a password (the admin never sees
//! the old one), disable and enable (disabling revokes the user's families and personal access
//! tokens), clear the sign-in throttle, make or unmake an admin. Removing the admin flag from,
//! or disabling, the last enabled admin is refused, with the reason next to the control.

use super::fields::{FieldErrors, PAGE_SIZE, audit, encode, failed, not_found, page_number};
use crate::admin::{AdminError, UserChange, UserProfile};
use crate::http::AppState;
use crate::http::web::timefmt::minute;
use crate::http::web::{Admin, Chrome, Form, Section, Visitor, page, redirect};
use crate::service::audit::AuditAction;
use crate::store::console::{Owner, Paging};
use crate::store::{StoreError, UserRow};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tessera_core::{Password, UserId};

#[derive(Template)]
#[template(path = "console/users.html")]
struct ListPage {
    chrome: Chrome,
    search: String,
    /// `search`, encoded for the pager's links.
    search_query: String,
    users: Vec<UserRow>,
    page: i64,
    more: bool,
}

pub async fn list(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let search = query.get("q").map(|q| q.trim().to_owned()).unwrap_or_default();
    let (number, offset) = page_number(query.get("page").map(String::as_str));
    let paging = Paging { limit: PAGE_SIZE + 1, offset };
    match service.find_users(&search, paging).await {
        Ok(mut users) => {
            let more = users.len() as i64 > PAGE_SIZE;
            users.truncate(PAGE_SIZE as usize);
            let chrome = visitor.chrome("Users", Section::Users);
            let search_query = encode(&search);
            page(StatusCode::OK, &ListPage { chrome, search, search_query, users, page: number, more })
        }
        Err(error) => failed(&visitor, &error),
    }
}

/// The new-user form as typed (never the password).
#[derive(Default)]
struct NewUserForm {
    username: String,
    name: String,
    email: String,
    is_admin: bool,
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
struct NewPage {
    chrome: Chrome,
    form: NewUserForm,
    errors: FieldErrors,
}

pub async fn new(Admin(visitor): Admin) -> Response {
    let chrome = visitor.chrome("New user", Section::Users);
    page(StatusCode::OK, &NewPage { chrome, form: NewUserForm::default(), errors: FieldErrors::default() })
}

pub async fn create(State(service): State<AppState>, Admin(visitor): Admin, form: Form) -> Response {
    let typed = NewUserForm {
        username: form.get("username").to_owned(),
        name: form.get("name").to_owned(),
        email: form.get("email").to_owned(),
        is_admin: form.checked("is_admin"),
    };
    let profile =
        UserProfile { email: Some(typed.email.clone()), name: Some(typed.name.clone()), email_verified: false };
    let password = Password::new(form.raw("password").unwrap_or_default().to_owned());
    let errors = match service.create_user(&typed.username, profile, typed.is_admin, password).await {
        Ok(user) => {
            let detail = if user.is_admin { "created as an admin" } else { "created" };
            if let Err(response) = audit(&service, &visitor, AuditAction::UserCreate, &user.username, detail).await {
                return response;
            }
            return redirect(&format!("/console/users/{}?done=created", user.user_id));
        }
        Err(error @ AdminError::InvalidUsername) => FieldErrors::one("username", error.to_string()),
        Err(AdminError::Store(StoreError::Conflict(_))) => {
            FieldErrors::one("username", format!("the username {:?} is taken", typed.username))
        }
        Err(error @ AdminError::EmptyPassword) => FieldErrors::one("password", error.to_string()),
        Err(error) => return failed(&visitor, &error),
    };
    let chrome = visitor.chrome("New user", Section::Users);
    page(StatusCode::UNPROCESSABLE_ENTITY, &NewPage { chrome, form: typed, errors })
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage<'a> {
    chrome: Chrome,
    user: &'a UserRow,
    created: String,
    live_families: i64,
    is_me: bool,
    done: &'a str,
    errors: FieldErrors,
}

/// What a finished action says on the user's page (`?done=…`).
fn done_text(done: &str) -> &'static str {
    match done {
        "created" => "The user was created.",
        "password" => "The password was set. Tell the user through a channel you trust.",
        "disabled" => {
            "The user is disabled: their sessions, refresh-token families and personal access tokens are revoked."
        }
        "enabled" => "The user is enabled again and may sign in.",
        "throttle" => "The sign-in throttle was cleared.",
        "admin" => "The user is now an admin.",
        "unadmin" => "The user is no longer an admin.",
        _ => "",
    }
}

async fn user_page(
    service: &AppState,
    visitor: &Visitor,
    user_id: &UserId,
    done: &str,
    errors: FieldErrors,
) -> Response {
    let user = match service.user_by_id(user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return not_found(visitor, "user"),
        Err(error) => return failed(visitor, &error),
    };
    let live_families = match service.count_live_families(Owner::User(user_id)).await {
        Ok(count) => count,
        Err(error) => return failed(visitor, &error),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let chrome = visitor.chrome(&user.username, Section::Users);
    let is_me = user.user_id == visitor.user.user_id;
    let created = minute(user.created_at);
    page(status, &UserPage { chrome, user: &user, created, live_families, is_me, done: done_text(done), errors })
}

pub async fn show(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let done = query.get("done").map(String::as_str).unwrap_or_default();
    user_page(&service, &visitor, &UserId::new(user_id), done, FieldErrors::default()).await
}

/// The user an action is about, by id, or the page to answer with.
async fn target(service: &AppState, visitor: &Visitor, user_id: &UserId) -> Result<UserRow, Response> {
    match service.user_by_id(user_id).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(not_found(visitor, "user")),
        Err(error) => Err(failed(visitor, &error)),
    }
}

pub async fn set_password(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(user_id): Path<String>,
    form: Form,
) -> Response {
    let user_id = UserId::new(user_id);
    let user = match target(&service, &visitor, &user_id).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let password = Password::new(form.raw("password").unwrap_or_default().to_owned());
    match service.set_user_password(&user_id, password).await {
        Ok(()) => {}
        Err(error @ AdminError::EmptyPassword) => {
            return user_page(&service, &visitor, &user_id, "", FieldErrors::one("password", error.to_string())).await;
        }
        Err(error) => return failed(&visitor, &error),
    }
    if let Err(response) = audit(&service, &visitor, AuditAction::UserSetPassword, &user.username, "password set").await
    {
        return response;
    }
    redirect(&format!("/console/users/{user_id}?done=password"))
}

/// Turns the admin flag (`field` "admin") or the disabled flag (`field` "disabled") to the
/// form's `set` value, refusing to leave no enabled admin.
async fn set_flag(service: &AppState, visitor: &Visitor, user_id: &UserId, field: &'static str, set: bool) -> Response {
    let user = match target(service, visitor, user_id).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let change = match field {
        "admin" => UserChange { is_admin: Some(set), ..UserChange::default() },
        _ => UserChange { disabled: Some(set), ..UserChange::default() },
    };
    let (action, done, detail) = match (field, set) {
        ("admin", true) => (AuditAction::UserGrantAdmin, "admin", "admin flag set"),
        ("admin", false) => (AuditAction::UserRevokeAdmin, "unadmin", "admin flag removed"),
        (_, true) => (AuditAction::UserDisable, "disabled", "disabled; families and personal access tokens revoked"),
        (_, false) => (AuditAction::UserEnable, "enabled", "enabled"),
    };
    match service.change_user(user_id, change).await {
        Ok(_) => {}
        Err(AdminError::LastAdmin(_)) => {
            let text = if user.user_id == visitor.user.user_id {
                "You are the last enabled admin: make another user an admin first, or nobody could run the console."
            } else {
                "This is the last enabled admin: make another user an admin first, or nobody could run the console."
            };
            return user_page(service, visitor, user_id, "", FieldErrors::one(field, text)).await;
        }
        Err(AdminError::NoSuchUser(_)) => return not_found(visitor, "user"),
        Err(error) => return failed(visitor, &error),
    }
    if let Err(response) = audit(service, visitor, action, &user.username, detail).await {
        return response;
    }
    redirect(&format!("/console/users/{user_id}?done={done}"))
}

pub async fn set_admin(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(user_id): Path<String>,
    form: Form,
) -> Response {
    set_flag(&service, &visitor, &UserId::new(user_id), "admin", form.get("set") == "true").await
}

pub async fn set_disabled(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(user_id): Path<String>,
    form: Form,
) -> Response {
    set_flag(&service, &visitor, &UserId::new(user_id), "disabled", form.get("set") == "true").await
}

pub async fn clear_throttle(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(user_id): Path<String>,
    _form: Form,
) -> Response {
    let user_id = UserId::new(user_id);
    let user = match target(&service, &visitor, &user_id).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let cleared = match service.clear_sign_in_throttle(&user.username).await {
        Ok(cleared) => cleared,
        Err(error) => return failed(&visitor, &error),
    };
    let detail = format!("{cleared} sign-in counters cleared");
    if let Err(response) = audit(&service, &visitor, AuditAction::UserClearThrottle, &user.username, &detail).await {
        return response;
    }
    redirect(&format!("/console/users/{user_id}?done=throttle"))
}
