//! Administration use cases behind the `tessera client …`, `user …`, `pat …` and
//! `keys revoke` commands, one file per group (clients here). They act on the database
//! directly; secrets are returned once and stored only hashed.

pub mod audit;
mod keys;
mod users;

mod accounts;

pub use accounts::{set_user_password, update_user_keeping_an_admin};
pub use audit::audit_command_line;
pub use keys::{WhenActive, revoke_signing_key};
pub use users::{
    UserChange, UserProfile, create_personal_access_token, create_user, create_user_with_profile,
    revoke_personal_access_token, update_user,
};

use crate::keys::KeyError;
use crate::passwords::PasswordError;
use crate::random::{RandomError, random_bytes};
use crate::store::{ClientRow, Store, StoreError};
use tessera_core::{ClientId, ClientSecret, GrantType, IntrospectionAccess, Origin, Scope, Timestamp};

/// The grants of a client created without `--grant`.
pub const DEFAULT_GRANTS: &[GrantType] = &[GrantType::AuthorizationCode, GrantType::Password, GrantType::RefreshToken];

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("unknown grant type {0:?} (known: authorization_code, password, refresh_token, client_credentials)")]
    UnknownGrant(String),
    #[error("redirect URI {0:?} must be an absolute URL without a fragment (RFC 6749 §3.1.2)")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidScope(#[from] tessera_core::ScopeError),
    #[error("{0}")]
    InvalidOrigin(#[from] tessera_core::OriginError),
    #[error("the name must not be empty")]
    EmptyName,
    #[error("the username must be 1 to 200 characters without spaces")]
    InvalidUsername,
    #[error("the password must not be empty")]
    EmptyPassword,
    #[error("{0} is the last enabled admin: make another user an admin first")]
    LastAdmin(String),
    #[error("client {0} does not exist")]
    NoSuchClient(String),
    #[error("user {0} does not exist")]
    NoSuchUser(String),
    #[error("personal access token {0} does not exist or is already revoked")]
    NoSuchPersonalAccessToken(String),
    #[error("a client needs at least one grant type")]
    NoGrants,
    #[error(
        "nothing to change: give at least one of --name, --scope, --grant, --redirect-uri, --introspect, --post-logout-redirect-uri, --allowed-origin, --require-dpop"
    )]
    NothingToUpdate,
    #[error("client {0} is public: it has no secret to rotate")]
    PublicClient(String),
    #[error("signing key {0} does not exist")]
    NoSuchSigningKey(String),
    #[error("signing key {0} is already revoked")]
    SigningKeyAlreadyRevoked(String),
    #[error(
        "signing key {0} is the only active key: revoking it would leave nothing to sign with; \
         `tessera keys revoke {0} --rotate` adds a new active key first"
    )]
    OnlyActiveSigningKey(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// What `tessera client create` asks for.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Grant type names as typed; empty means [`DEFAULT_GRANTS`].
    pub grant_types: Vec<String>,
    pub scope: String,
    pub public: bool,
    /// `--introspect`: a resource server, which may introspect any access token.
    pub introspection: IntrospectionAccess,
    /// `--allowed-origin`: web origins its browser app may call from (CORS), as typed.
    pub allowed_origins: Vec<String>,
    /// `--require-dpop`: the token endpoint refuses this client's requests without a DPoP proof.
    pub require_dpop: bool,
}

/// What `tessera client update` changes; `None` leaves that field as it is. Lists replace the
/// registered ones whole.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    /// Grant type names as typed; must not be empty when given.
    pub grant_types: Option<Vec<String>>,
    pub scope: Option<String>,
    pub introspection: Option<IntrospectionAccess>,
    /// OpenID Connect logout destinations; replace the registered ones when given.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Web origins for CORS, as typed; replace the registered ones when given (empty: none).
    pub allowed_origins: Option<Vec<String>>,
    /// `--require-dpop` / `--no-require-dpop`.
    pub require_dpop: Option<bool>,
}

fn valid_redirect_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else { return false };
    !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !uri.contains('#')
        && !uri.chars().any(char::is_whitespace)
}

fn parse_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() { Err(AdminError::EmptyName) } else { Ok(name.to_owned()) }
}

/// Grant type names, sorted and without duplicates.
fn parse_grants(names: &[String]) -> Result<Vec<GrantType>, AdminError> {
    let mut grant_types = names
        .iter()
        .map(|name| GrantType::parse(name).ok_or_else(|| AdminError::UnknownGrant(name.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    grant_types.sort();
    grant_types.dedup();
    Ok(grant_types)
}

/// `--allowed-origin` values, normalised (`HTTPS://App.Example:443` → `https://app.example`),
/// sorted and without duplicates.
fn parse_origins(typed: &[String]) -> Result<Vec<Origin>, AdminError> {
    let mut origins = typed.iter().map(|origin| Origin::parse(origin)).collect::<Result<Vec<_>, _>>()?;
    origins.sort();
    origins.dedup();
    Ok(origins)
}

fn check_redirect_uris(uris: &[String]) -> Result<(), AdminError> {
    match uris.iter().find(|uri| !valid_redirect_uri(uri)) {
        Some(uri) => Err(AdminError::InvalidRedirectUri(uri.clone())),
        None => Ok(()),
    }
}

pub async fn create_client(
    store: &Store,
    now: Timestamp,
    new: NewClient,
) -> Result<(ClientRow, Option<ClientSecret>), AdminError> {
    let name = parse_name(&new.name)?;
    let grant_types =
        if new.grant_types.is_empty() { DEFAULT_GRANTS.to_vec() } else { parse_grants(&new.grant_types)? };
    check_redirect_uris(&new.redirect_uris)?;
    let scope = Scope::parse(&new.scope)?;
    let allowed_origins = parse_origins(&new.allowed_origins)?;
    let secret = if new.public { None } else { Some(ClientSecret::from_random(&random_bytes::<32>()?)) };
    let client = ClientRow {
        client_id: ClientId::new(uuid::Uuid::new_v4().simple().to_string()),
        name,
        secret_hash: secret.as_ref().map(ClientSecret::hash),
        redirect_uris: new.redirect_uris,
        grant_types,
        scope,
        created_at: now,
        introspection: new.introspection,
        allowed_origins,
        require_dpop: new.require_dpop,
    };
    store.insert_client(&client).await?;
    Ok((client, secret))
}

/// `tessera client update`: checks every change first, so that bad input changes nothing, then
/// writes them in one statement. The client as it now is. Acting on the database directly,
/// it reaches running servers within their client cache's bound (`TESSERA_CLIENT_CACHE_TTL`);
/// `AuthService::update_client` also drops that instance's cached row at once.
pub async fn update_client(store: &Store, client_id: &ClientId, update: ClientUpdate) -> Result<ClientRow, AdminError> {
    let ClientUpdate {
        name,
        redirect_uris,
        grant_types,
        scope,
        introspection,
        post_logout_redirect_uris,
        allowed_origins,
        require_dpop,
    } = update;
    if name.is_none()
        && redirect_uris.is_none()
        && grant_types.is_none()
        && scope.is_none()
        && introspection.is_none()
        && post_logout_redirect_uris.is_none()
        && allowed_origins.is_none()
        && require_dpop.is_none()
    {
        return Err(AdminError::NothingToUpdate);
    }
    if let Some(uris) = &post_logout_redirect_uris {
        check_post_logout_redirect_uris(uris)?;
    }
    let name = name.as_deref().map(parse_name).transpose()?;
    let grant_types = match grant_types {
        Some(names) if names.is_empty() => return Err(AdminError::NoGrants),
        names => names.as_deref().map(parse_grants).transpose()?,
    };
    if let Some(uris) = &redirect_uris {
        check_redirect_uris(uris)?;
    }
    let scope = scope.as_deref().map(Scope::parse).transpose()?;
    let allowed_origins = allowed_origins.as_deref().map(parse_origins).transpose()?;
    let no_such_client = || AdminError::NoSuchClient(client_id.to_string());
    let mut client = store.get_client(client_id).await?.ok_or_else(no_such_client)?;
    client.name = name.unwrap_or(client.name);
    client.redirect_uris = redirect_uris.unwrap_or(client.redirect_uris);
    client.grant_types = grant_types.unwrap_or(client.grant_types);
    client.scope = scope.unwrap_or(client.scope);
    client.introspection = introspection.unwrap_or(client.introspection);
    client.allowed_origins = allowed_origins.unwrap_or(client.allowed_origins);
    client.require_dpop = require_dpop.unwrap_or(client.require_dpop);
    if !store.update_client(&client).await? {
        return Err(no_such_client());
    }
    if let Some(uris) = &post_logout_redirect_uris {
        set_post_logout_redirect_uris(store, client_id, uris).await?;
    }
    Ok(client)
}

/// A new secret for a confidential client; the old one stops working at once.
pub async fn rotate_client_secret(store: &Store, client_id: &ClientId) -> Result<ClientSecret, AdminError> {
    let client = store.get_client(client_id).await?.ok_or_else(|| AdminError::NoSuchClient(client_id.to_string()))?;
    if client.is_public() {
        return Err(AdminError::PublicClient(client_id.to_string()));
    }
    let secret = ClientSecret::from_random(&random_bytes::<32>()?);
    store.set_client_secret(client_id, &secret.hash()).await?;
    Ok(secret)
}

/// Each post-logout redirect URI must be an absolute URL without fragment, like a redirect URI.
pub fn check_post_logout_redirect_uris(uris: &[String]) -> Result<(), AdminError> {
    match uris.iter().find(|uri| !valid_redirect_uri(uri)) {
        Some(bad) => Err(AdminError::InvalidRedirectUri(bad.clone())),
        None => Ok(()),
    }
}

/// `--post-logout-redirect-uri`: where the client may send the browser after logout
/// (OpenID Connect RP-Initiated Logout 1.0 §3). Each must be an absolute URL without fragment.
pub async fn set_post_logout_redirect_uris(
    store: &Store,
    client_id: &ClientId,
    uris: &[String],
) -> Result<(), AdminError> {
    check_post_logout_redirect_uris(uris)?;
    if !store.set_client_post_logout_redirect_uris(client_id, uris).await? {
        return Err(AdminError::NoSuchClient(client_id.to_string()));
    }
    Ok(())
}
