//! `/console/clients`: list and search the registered clients, register one (its secret shown
//! once), change one, rotate its secret (shown once) and delete it after a confirmation that
//! names the live families it revokes. Validation is the admin use cases' (`crate::admin`).

use super::fields::{FieldErrors, audit, failed, lines, not_found};
use crate::admin::{AdminError, ClientUpdate, DEFAULT_GRANTS, NewClient, check_post_logout_redirect_uris};
use crate::http::AppState;
use crate::http::web::timefmt::minute;
use crate::http::web::{Admin, Chrome, Form, Section, Visitor, message, page, redirect};
use crate::service::audit::{Actor, AuditAction};
use crate::store::ClientRow;
use crate::store::console::Owner;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tessera_core::{ClientId, GrantType, IntrospectionAccess};

/// The grants a form offers, with what people call them.
const GRANTS: &[(GrantType, &str)] = &[
    (GrantType::AuthorizationCode, "Authorization code"),
    (GrantType::RefreshToken, "Refresh token"),
    (GrantType::ClientCredentials, "Client credentials"),
    (GrantType::Password, "Password"),
    (GrantType::DeviceCode, "Device code"),
];

/// What the client form holds, as typed (shown again when it is refused).
pub struct ClientForm {
    pub name: String,
    pub public: bool,
    pub grants: Vec<String>,
    pub scope: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub allowed_origins: String,
    pub require_dpop: bool,
    pub introspect: bool,
}

impl ClientForm {
    fn blank() -> Self {
        ClientForm {
            name: String::new(),
            public: false,
            grants: DEFAULT_GRANTS.iter().map(|grant| grant.as_str().to_owned()).collect(),
            scope: String::new(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            allowed_origins: String::new(),
            require_dpop: false,
            introspect: false,
        }
    }

    fn of(client: &ClientRow, logout_uris: &[String]) -> Self {
        ClientForm {
            name: client.name.clone(),
            public: client.is_public(),
            grants: client.grant_types.iter().map(|grant| grant.as_str().to_owned()).collect(),
            scope: client.scope.to_string(),
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_redirect_uris: logout_uris.join("\n"),
            allowed_origins: client.allowed_origins.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            require_dpop: client.require_dpop,
            introspect: client.introspection == IntrospectionAccess::AnyAccessToken,
        }
    }

    fn read(form: &Form) -> Self {
        ClientForm {
            name: form.get("name").to_owned(),
            public: form.get("kind") == "public",
            grants: form.all("grant_types").into_iter().map(str::to_owned).collect(),
            scope: form.get("scope").to_owned(),
            redirect_uris: form.get("redirect_uris").to_owned(),
            post_logout_redirect_uris: form.get("post_logout_redirect_uris").to_owned(),
            allowed_origins: form.get("allowed_origins").to_owned(),
            require_dpop: form.checked("require_dpop"),
            introspect: form.checked("introspect"),
        }
    }

    /// The grant checkboxes: (value, label, checked).
    pub fn grant_choices(&self) -> Vec<(&'static str, &'static str, bool)> {
        GRANTS
            .iter()
            .map(|(grant, label)| (grant.as_str(), *label, self.grants.iter().any(|g| g == grant.as_str())))
            .collect()
    }

    fn introspection(&self) -> IntrospectionAccess {
        if self.introspect { IntrospectionAccess::AnyAccessToken } else { IntrospectionAccess::OwnTokens }
    }
}

/// Which field an admin use case's refusal belongs next to.
fn field_error(error: &AdminError) -> Option<FieldErrors> {
    let field = match error {
        AdminError::EmptyName => "name",
        AdminError::UnknownGrant(_) | AdminError::NoGrants => "grant_types",
        AdminError::InvalidRedirectUri(_) => "redirect_uris",
        AdminError::InvalidScope(_) => "scope",
        AdminError::InvalidOrigin(_) => "allowed_origins",
        _ => return None,
    };
    Some(FieldErrors::one(field, error.to_string()))
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ListPage {
    chrome: Chrome,
    search: String,
    clients: Vec<ClientRow>,
}

pub async fn list(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let search = query.get("q").map(|q| q.trim().to_owned()).unwrap_or_default();
    match service.find_clients(&search).await {
        Ok(clients) => {
            page(StatusCode::OK, &ListPage { chrome: visitor.chrome("Clients", Section::Clients), search, clients })
        }
        Err(error) => failed(&visitor, &error),
    }
}

#[derive(Template)]
#[template(path = "console/client_new.html")]
struct NewPage {
    chrome: Chrome,
    form: ClientForm,
    errors: FieldErrors,
}

pub async fn new(Admin(visitor): Admin) -> Response {
    let chrome = visitor.chrome("New client", Section::Clients);
    page(StatusCode::OK, &NewPage { chrome, form: ClientForm::blank(), errors: FieldErrors::default() })
}

/// The page that shows a secret once: after registering a client, or rotating its secret.
#[derive(Template)]
#[template(path = "console/client_secret.html")]
struct SecretPage<'a> {
    chrome: Chrome,
    client: &'a ClientRow,
    secret: Option<&'a str>,
    created: bool,
}

pub async fn create(State(service): State<AppState>, Admin(visitor): Admin, form: Form) -> Response {
    let typed = ClientForm::read(&form);
    let refused = |visitor: &Visitor, typed, errors| {
        let chrome = visitor.chrome("New client", Section::Clients);
        page(StatusCode::UNPROCESSABLE_ENTITY, &NewPage { chrome, form: typed, errors })
    };
    let logout_uris = lines(&typed.post_logout_redirect_uris);
    if let Err(error) = check_post_logout_redirect_uris(&logout_uris) {
        return refused(&visitor, typed, FieldErrors::one("post_logout_redirect_uris", error.to_string()));
    }
    if typed.grants.is_empty() {
        return refused(&visitor, typed, FieldErrors::one("grant_types", AdminError::NoGrants.to_string()));
    }
    let new = NewClient {
        name: typed.name.clone(),
        redirect_uris: lines(&typed.redirect_uris),
        grant_types: typed.grants.clone(),
        scope: typed.scope.clone(),
        public: typed.public,
        introspection: typed.introspection(),
        allowed_origins: lines(&typed.allowed_origins),
        require_dpop: typed.require_dpop,
    };
    let (client, secret) = match service.create_client(new, &logout_uris).await {
        Ok(created) => created,
        Err(error) => match field_error(&error) {
            Some(errors) => return refused(&visitor, typed, errors),
            None => return failed(&visitor, &error),
        },
    };
    let kind = if client.is_public() { "public" } else { "confidential" };
    let detail = format!("{kind} client {:?}", client.name);
    if let Err(response) =
        audit(&service, &visitor, AuditAction::ClientCreate, client.client_id.as_str(), &detail).await
    {
        return response;
    }
    // A public client has no secret to show: POST/redirect/GET as after any other action.
    let Some(secret) = secret else {
        return redirect(&format!("/console/clients/{}?registered", client.client_id.as_str()));
    };
    let chrome = visitor.chrome("Client registered", Section::Clients);
    page(StatusCode::OK, &SecretPage { chrome, client: &client, secret: Some(secret.secret()), created: true })
}

#[derive(Template)]
#[template(path = "console/client.html")]
struct ClientPage<'a> {
    chrome: Chrome,
    client: &'a ClientRow,
    created: String,
    live_families: i64,
    form: ClientForm,
    errors: FieldErrors,
    /// What the last action did, shown above the page; empty if nothing.
    done: &'static str,
}

async fn client_page(
    service: &AppState,
    visitor: &Visitor,
    client_id: &ClientId,
    edited: Option<(ClientForm, FieldErrors)>,
    done: &'static str,
) -> Response {
    let found = match service.client_with_logout_uris(client_id).await {
        Ok(found) => found,
        Err(error) => return failed(visitor, &error),
    };
    let Some((client, logout_uris)) = found else { return not_found(visitor, "client") };
    let live_families = match service.count_live_families(Owner::Client(client_id)).await {
        Ok(count) => count,
        Err(error) => return failed(visitor, &error),
    };
    let status = if edited.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let (form, errors) = edited.unwrap_or_else(|| (ClientForm::of(&client, &logout_uris), FieldErrors::default()));
    let chrome = visitor.chrome(&client.name, Section::Clients);
    let created = minute(client.created_at);
    page(status, &ClientPage { chrome, client: &client, created, live_families, form, errors, done })
}

pub async fn show(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(client_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let done = if query.contains_key("saved") {
        "Changes saved."
    } else if query.contains_key("registered") {
        "The client is registered. It is public: it has no secret."
    } else {
        ""
    };
    client_page(&service, &visitor, &ClientId::new(client_id), None, done).await
}

pub async fn update(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(client_id): Path<String>,
    form: Form,
) -> Response {
    let client_id = ClientId::new(client_id);
    let typed = ClientForm::read(&form);
    let change = ClientUpdate {
        name: Some(typed.name.clone()),
        redirect_uris: Some(lines(&typed.redirect_uris)),
        grant_types: Some(typed.grants.clone()),
        scope: Some(typed.scope.clone()),
        introspection: Some(typed.introspection()),
        post_logout_redirect_uris: Some(lines(&typed.post_logout_redirect_uris)),
        allowed_origins: Some(lines(&typed.allowed_origins)),
        require_dpop: Some(typed.require_dpop),
    };
    // The post-logout URIs are checked first by `update_client` too; told apart here so the
    // message lands next to their own field.
    if let Err(error) = check_post_logout_redirect_uris(&lines(&typed.post_logout_redirect_uris)) {
        let errors = FieldErrors::one("post_logout_redirect_uris", error.to_string());
        return client_page(&service, &visitor, &client_id, Some((typed, errors)), "").await;
    }
    match service.update_client(&client_id, change).await {
        Ok(client) => {
            let detail = format!("name {:?}, scope {:?}", client.name, client.scope.to_string());
            if let Err(response) =
                audit(&service, &visitor, AuditAction::ClientUpdate, client_id.as_str(), &detail).await
            {
                return response;
            }
            redirect(&format!("/console/clients/{}?saved", client_id.as_str()))
        }
        Err(AdminError::NoSuchClient(_)) => not_found(&visitor, "client"),
        Err(error) => match field_error(&error) {
            Some(errors) => client_page(&service, &visitor, &client_id, Some((typed, errors)), "").await,
            None => failed(&visitor, &error),
        },
    }
}

pub async fn rotate(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(client_id): Path<String>,
    _form: Form,
) -> Response {
    let client_id = ClientId::new(client_id);
    let secret = match service.rotate_client_secret(&client_id).await {
        Ok(secret) => secret,
        Err(AdminError::NoSuchClient(_)) => return not_found(&visitor, "client"),
        Err(AdminError::PublicClient(_)) => {
            let chrome = visitor.chrome("No secret to rotate", Section::Clients);
            return message(StatusCode::UNPROCESSABLE_ENTITY, chrome, "A public client has no secret to rotate.");
        }
        Err(error) => return failed(&visitor, &error),
    };
    let client = match service.client_with_logout_uris(&client_id).await {
        Ok(Some((client, _))) => client,
        Ok(None) => return not_found(&visitor, "client"),
        Err(error) => return failed(&visitor, &error),
    };
    if let Err(response) =
        audit(&service, &visitor, AuditAction::ClientRotateSecret, client_id.as_str(), "the old secret stopped working")
            .await
    {
        return response;
    }
    let chrome = visitor.chrome("New client secret", Section::Clients);
    page(StatusCode::OK, &SecretPage { chrome, client: &client, secret: Some(secret.secret()), created: false })
}

#[derive(Template)]
#[template(path = "console/client_delete.html")]
struct DeletePage<'a> {
    chrome: Chrome,
    client: &'a ClientRow,
    live_families: i64,
}

pub async fn confirm_delete(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(client_id): Path<String>,
) -> Response {
    let client_id = ClientId::new(client_id);
    let client = match service.client_with_logout_uris(&client_id).await {
        Ok(Some((client, _))) => client,
        Ok(None) => return not_found(&visitor, "client"),
        Err(error) => return failed(&visitor, &error),
    };
    let live_families = match service.count_live_families(Owner::Client(&client_id)).await {
        Ok(count) => count,
        Err(error) => return failed(&visitor, &error),
    };
    let chrome = visitor.chrome(&format!("Delete {}?", client.name), Section::Clients);
    page(StatusCode::OK, &DeletePage { chrome, client: &client, live_families })
}

pub async fn delete(
    State(service): State<AppState>,
    Admin(visitor): Admin,
    Path(client_id): Path<String>,
    _form: Form,
) -> Response {
    let client_id = ClientId::new(client_id);
    let name = match service.client_with_logout_uris(&client_id).await {
        Ok(Some((client, _))) => client.name,
        Ok(None) => return not_found(&visitor, "client"),
        Err(error) => return failed(&visitor, &error),
    };
    let admin = Actor { user: &visitor.user, address: visitor.address };
    let revoked = match service.delete_client_revoking_families(admin, &client_id).await {
        Ok(Some(revoked)) => revoked,
        Ok(None) => return not_found(&visitor, "client"),
        Err(error) => return failed(&visitor, &error),
    };
    let detail = format!("client {name:?} deleted; {revoked} live families revoked (reason: client deletion)");
    if let Err(response) = audit(&service, &visitor, AuditAction::ClientDelete, client_id.as_str(), &detail).await {
        return response;
    }
    redirect("/console/clients")
}
