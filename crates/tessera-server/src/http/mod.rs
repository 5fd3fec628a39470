//! HTTP: the router and its handlers. Handlers parse, call the service, render; the RFC
//! error mapping lives in [`error::ApiError`], the request limits in [`limits`]. Every request
//! is timed for `/metrics`, logged at debug level, and written to the access log when that is on.

pub mod access_log;
mod account;
mod authorize;
mod client_address;
mod console;
mod cors;
mod device;
mod dpop;
mod error;
mod limits;
mod oidc;
mod openapi;
pub mod params;
pub mod web;

pub use access_log::{AccessLog, AccessLogWriter};
pub use error::{ApiError, BearerRefusal};

use crate::metrics::Endpoint;
use crate::service::AuthService;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use client_address::ClientAddress;
use params::{TokenEndpointRequest, TokenOperation};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tessera_core::{ClientAuthMethod, GrantType};
use tessera_proto::{IntrospectionResponse, ServerMetadata, TokenResponse, UserInfo};

pub type AppState = Arc<AuthService>;

/// What every request passes through on its way in and out.
#[derive(Clone)]
struct Observer {
    service: AppState,
    access_log: Option<AccessLog>,
}

/// The routes; `access_log` is `None` when the access log is off.
pub fn router(state: AppState, access_log: Option<AccessLog>) -> Router {
    let observer = Observer { service: Arc::clone(&state), access_log };
    // CORS (see `cors`): registered origins where browser apps use their tokens, `*` on the
    // public documents, and none on the pages (authorize, logout) or introspection.
    let (browser_apps, public) = (cors::registered_origins(&state), cors::public_documents());
    let oauth = Router::new()
        .route("/oauth/token", post(token).layer(browser_apps.clone()))
        .route("/oauth/revoke", post(revoke).layer(browser_apps.clone()))
        .route("/oauth/introspect", post(introspect))
        .route("/oauth/device_authorization", post(device::device_authorization))
        .layer(middleware::map_response(no_store))
        .route("/oauth/device", get(device::verification_get).post(device::verification_post))
        .route("/oauth/userinfo", get(oidc::userinfo).post(oidc::userinfo).layer(browser_apps.clone()))
        .route("/oauth/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/oauth/logout", get(oidc::logout::logout_get).post(oidc::logout::logout_post))
        .layer(limits::oauth_body_limit());
    let routes = Router::new()
        .merge(oauth)
        .route("/oauth/jwks", get(jwks).layer(public.clone()))
        .route("/.well-known/oauth-authorization-server", get(metadata).layer(public.clone()))
        .route("/.well-known/openid-configuration", get(openid_configuration).layer(public.clone()))
        .route("/openapi.json", openapi::route(state.issuer()).layer(public))
        .route("/api/1.0/users/me", get(users_me).layer(browser_apps))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // The pages for people: sign-in, the admin console, the account page (`web`).
        .merge(web::routes())
        .merge(console::routes())
        .merge(account::routes());
    // The observer is outside the limits, so that refusals are counted and logged too.
    limits::limit_requests(routes, state.config())
        .layer(middleware::from_fn_with_state(observer, observe_request))
        .with_state(state)
}

/// RFC 6749 §5.1: responses carrying tokens must not be cached.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Times the request for `/metrics`; one debug line, and one access-log line if that is on:
/// method, path (never the query, which may carry a secret), status, duration.
async fn observe_request(State(observer): State<Observer>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let endpoint = Endpoint::of_path(request.uri().path());
    let described = (observer.access_log.is_some()
        || tracing::enabled!(target: "tessera::http", tracing::Level::DEBUG))
    .then(|| {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
        (request.method().clone(), request.uri().path().to_owned(), peer)
    });
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    observer.service.metrics().request_served(endpoint, elapsed);
    if let Some((method, path, peer)) = described {
        let status = response.status().as_u16();
        tracing::debug!(
            target: "tessera::http",
            %method,
            path,
            status,
            elapsed_ms = elapsed.as_millis() as u64,
        );
        if let Some(access_log) = &observer.access_log {
            let at = observer.service.now();
            access_log.record(&access_log::Entry { at, peer, method: method.as_str(), path: &path, status, elapsed });
        }
    }
    response
}

/// `POST /oauth/token` (RFC 6749 §3.2), with DPoP (RFC 9449 §5): every answer carries the
/// current server nonce when nonces are on (§8).
async fn token(
    State(service): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    TokenEndpointRequest(request): TokenEndpointRequest,
) -> Response {
    let mut response = match dpop::proof_header(&headers) {
        Ok(proof) => issue(&service, &request, address, proof).await.into_response(),
        Err(error) => error.into_response(),
    };
    if let Some(nonce) = service.dpop_nonce().and_then(|nonce| HeaderValue::from_str(&nonce).ok()) {
        response.headers_mut().insert(dpop::DPOP_NONCE, nonce);
    }
    response
}

async fn issue(
    service: &AuthService,
    request: &tessera_core::TokenRequest,
    address: std::net::IpAddr,
    proof: Option<&str>,
) -> Result<Json<TokenResponse>, ApiError> {
    let issued = service.token(request, address, proof).await?;
    let scope = issued.scope.to_string();
    Ok(Json(TokenResponse {
        // RFC 9449 §5: a DPoP-bound access token is of type DPoP.
        token_type: if issued.cnf.is_some() { "DPoP" } else { "Bearer" }.into(),
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        refresh_token: issued.refresh_token.map(|token| token.secret().to_owned()),
        scope: (!scope.is_empty()).then_some(scope),
        id_token: issued.id_token,
    }))
}

/// `POST /oauth/revoke` (RFC 7009).
async fn revoke(State(service): State<AppState>, operation: TokenOperation) -> Result<StatusCode, ApiError> {
    service.revoke(&operation.client, operation.token()?, operation.hint()).await?;
    Ok(StatusCode::OK)
}

/// `POST /oauth/introspect` (RFC 7662). Only confidential clients may introspect.
async fn introspect(
    State(service): State<AppState>,
    operation: TokenOperation,
) -> Result<Json<IntrospectionResponse>, ApiError> {
    service.may_introspect(&operation.client)?;
    Ok(Json(service.introspect(&operation.client, operation.token()?, operation.hint()).await?))
}

async fn jwks(State(service): State<AppState>) -> Response {
    let mut response = Json(service.jwks()).into_response();
    // Resource servers cache the key set; a short max-age keeps rotations visible.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

async fn metadata(State(service): State<AppState>) -> Json<ServerMetadata> {
    Json(server_metadata(&service))
}

/// OpenID Connect Discovery 1.0 §4: the RFC 8414 document plus the OpenID provider fields.
async fn openid_configuration(State(service): State<AppState>) -> Json<tessera_proto::OpenIdMetadata> {
    Json(oidc::openid_metadata(&service, server_metadata(&service)))
}

/// RFC 8414 §2, the same fields in both documents.
fn server_metadata(service: &AppState) -> ServerMetadata {
    let issuer = service.issuer().to_owned();
    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>();
    let methods =
        |items: &[ClientAuthMethod]| items.iter().map(|method| method.as_str().to_owned()).collect::<Vec<_>>();
    let (basic, post) = (ClientAuthMethod::ClientSecretBasic, ClientAuthMethod::ClientSecretPost);
    let auth_methods = methods(&[basic, post, ClientAuthMethod::None]);
    ServerMetadata {
        authorization_endpoint: format!("{issuer}/oauth/authorize"),
        token_endpoint: format!("{issuer}/oauth/token"),
        jwks_uri: format!("{issuer}/oauth/jwks"),
        revocation_endpoint: format!("{issuer}/oauth/revoke"),
        introspection_endpoint: format!("{issuer}/oauth/introspect"),
        grant_types_supported: [
            GrantType::AuthorizationCode,
            GrantType::Password,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
            GrantType::DeviceCode,
        ]
        .map(|grant| grant.as_str().to_owned())
        .to_vec(),
        response_types_supported: strings(&["code"]),
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: methods(&[basic, post]),
        code_challenge_methods_supported: strings(&["S256"]),
        scopes_supported: strings(oidc::OPENID_SCOPES),
        authorization_response_iss_parameter_supported: true,
        device_authorization_endpoint: Some(format!("{issuer}/oauth/device_authorization")),
        dpop_signing_alg_values_supported: strings(&tessera_core::dpop::SIGNING_ALGORITHMS),
        issuer,
    }
}

/// The access token a request presents (`Authorization: Bearer …`, RFC 6750 §2.1, or
/// `DPoP …`), read as the resource endpoints read it. Public for the fuzz target and property
/// tests, which feed it arbitrary headers.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    dpop::presented_token(headers, "GET", "/").ok().flatten().map(|presented| presented.token)
}

/// `GET /api/1.0/users/me`: the protected resource.
async fn users_me(State(service): State<AppState>, headers: HeaderMap) -> Result<Json<UserInfo>, ApiError> {
    let presented = dpop::presented_token(&headers, "GET", "/api/1.0/users/me")?;
    let presented = presented.ok_or(ApiError::Bearer(BearerRefusal::Missing))?;
    let user_id = service.authenticate_resource(&presented).await?;
    // A client_credentials token names a client, not a user (RFC 6750 §3.1).
    let user = service
        .find_user(&user_id)
        .await?
        .ok_or(ApiError::Bearer(BearerRefusal::InsufficientScope("this access token does not act for a user")))?;
    Ok(Json(UserInfo { id: user.user_id.into_string(), username: user.username, email: user.email }))
}

/// prometheus-client writes the OpenMetrics text format (`# TYPE` lines name the family without
/// `_total`, and the text ends with `# EOF`), so that is the type we declare: Prometheus asks for
/// it first, and under `text/plain; version=0.0.4` it would not tie the counters to their types.
async fn metrics(State(service): State<AppState>) -> Response {
    let mut response = service.render_metrics().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn healthz(State(service): State<AppState>) -> Response {
    match service.health().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
