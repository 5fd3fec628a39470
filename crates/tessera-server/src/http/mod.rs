//! HTTP: the router and its handlers. Handlers parse, call the service, render; the RFC
//! error mapping lives in [`error::ApiError`].

mod authorize;
mod error;
mod params;

pub use error::ApiError;

use crate::service::{AuthService, InternalError};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Instant;
use tessera_core::request::client_credentials;
use tessera_core::{GrantRequest, TokenRequest};
use tessera_proto::{ErrorCode, ServerMetadata, TokenResponse, UserInfo};

pub type AppState = Arc<AuthService>;

pub fn router(state: AppState) -> Router {
    let oauth = Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/introspect", post(introspect))
        .layer(middleware::map_response(no_store));
    Router::new()
        .merge(oauth)
        .route("/oauth/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/oauth/jwks", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/api/1.0/users/me", get(users_me))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// RFC 6749 §5.1: responses carrying tokens must not be cached.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// One line per request: method, path (never the query, which may carry a secret), status.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "tessera::http",
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
    );
    response
}

/// `POST /oauth/token` (RFC 6749 §3.2).
async fn token(State(service): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let basic_tried = params::basic_tried(&headers);
    let request_error = |error| ApiError::from_request(error, basic_tried);
    let service_error = |error| ApiError::from_service(error, basic_tried);
    let basic = params::basic_credentials(&headers).map_err(request_error)?;
    let parameters = params::body_parameters(&headers, &body).map_err(request_error)?;
    let request = TokenRequest::parse(&parameters, basic).map_err(request_error)?;
    let grant_type = request.grant.grant_type();
    let result = issue(&service, &request).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(crate::service::ServiceError::OAuth { code, .. }) => code.as_str(),
        Err(crate::service::ServiceError::Internal(_)) => "server_error",
    };
    service.metrics.incr("tessera_token_requests_total", &[("grant_type", grant_type), ("outcome", outcome)]);
    let issued = result.map_err(service_error)?;
    let scope = issued.scope.to_string();
    let body = TokenResponse {
        token_type: "Bearer".into(),
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        refresh_token: issued.refresh_token.map(|token| token.secret().to_owned()),
        scope: (!scope.is_empty()).then_some(scope),
    };
    Ok(Json(body).into_response())
}

/// Authenticates the client and runs the grant.
async fn issue(
    service: &AuthService,
    request: &TokenRequest,
) -> Result<crate::service::Issued, crate::service::ServiceError> {
    let client = service.authenticate_client(&request.client).await?;
    match &request.grant {
        GrantRequest::Password { username, password, scope } => {
            service.password_grant(&client, username, password.clone(), scope.as_ref()).await
        }
        GrantRequest::RefreshToken { refresh_token, scope } => {
            service.refresh_grant(&client, refresh_token, scope.as_ref()).await
        }
        GrantRequest::ClientCredentials { scope } => service.client_credentials_grant(&client, scope.as_ref()).await,
        GrantRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
            service.authorization_code_grant(&client, code, redirect_uri.as_deref(), code_verifier.as_deref()).await
        }
    }
}

/// Client authentication for revocation and introspection: the same methods as the token
/// endpoint, parameters from the same body.
async fn endpoint_client(
    service: &AuthService,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(crate::store::ClientRow, std::collections::HashMap<String, String>), ApiError> {
    let basic_tried = params::basic_tried(headers);
    let basic = params::basic_credentials(headers).map_err(|error| ApiError::from_request(error, basic_tried))?;
    let parameters =
        params::body_parameters(headers, body).map_err(|error| ApiError::from_request(error, basic_tried))?;
    let credentials =
        client_credentials(basic, &parameters).map_err(|error| ApiError::from_request(error, basic_tried))?;
    let client =
        service.authenticate_client(&credentials).await.map_err(|error| ApiError::from_service(error, basic_tried))?;
    Ok((client, parameters))
}

fn required_token(parameters: &std::collections::HashMap<String, String>) -> Result<&str, ApiError> {
    parameters.get("token").map(String::as_str).ok_or_else(|| ApiError::OAuth {
        code: ErrorCode::InvalidRequest,
        description: "missing required parameter `token`".into(),
        basic_tried: false,
    })
}

/// `POST /oauth/revoke` (RFC 7009).
async fn revoke(State(service): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (client, parameters) = endpoint_client(&service, &headers, &body).await?;
    let token = required_token(&parameters)?;
    let hint = parameters.get("token_type_hint").map(String::as_str);
    service.revoke(&client, token, hint).await.map_err(|error| ApiError::from_service(error, false))?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /oauth/introspect` (RFC 7662). Only confidential clients may introspect.
async fn introspect(State(service): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (client, parameters) = endpoint_client(&service, &headers, &body).await?;
    if client.is_public() {
        return Err(ApiError::OAuth {
            code: ErrorCode::InvalidClient,
            description: "introspection requires a confidential client".into(),
            basic_tried: params::basic_tried(&headers),
        });
    }
    let token = required_token(&parameters)?;
    let hint = parameters.get("token_type_hint").map(String::as_str);
    let response = service.introspect(token, hint).await.map_err(|error| ApiError::from_service(error, false))?;
    Ok(Json(response).into_response())
}

async fn jwks(State(service): State<AppState>) -> Response {
    // A retired key may still sign for up to one key-refresh interval on instances that have
    // not re-read the keys yet, and its tokens live one access-token lifetime after that.
    let published_for = service.config.access_token_ttl + service.config.key_refresh_interval;
    let mut response = Json(service.keys.jwks(service.now(), published_for)).into_response();
    // Resource servers cache the key set; a short max-age keeps rotations visible.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

async fn metadata(State(service): State<AppState>) -> Json<ServerMetadata> {
    let issuer = service.issuer.clone();
    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>();
    let auth_methods = strings(&["client_secret_basic", "client_secret_post", "none"]);
    Json(ServerMetadata {
        authorization_endpoint: format!("{issuer}/oauth/authorize"),
        token_endpoint: format!("{issuer}/oauth/token"),
        jwks_uri: format!("{issuer}/oauth/jwks"),
        revocation_endpoint: format!("{issuer}/oauth/revoke"),
        introspection_endpoint: format!("{issuer}/oauth/introspect"),
        grant_types_supported: strings(&["authorization_code", "password", "refresh_token", "client_credentials"]),
        response_types_supported: strings(&["code"]),
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: strings(&["client_secret_basic", "client_secret_post"]),
        code_challenge_methods_supported: strings(&["S256"]),
        scopes_supported: Vec::new(),
        issuer,
    })
}

/// The bearer token of a request, if it carries `Authorization: Bearer …` (RFC 6750 §2.1).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

/// `GET /api/1.0/users/me`: the protected resource.
async fn users_me(State(service): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = bearer_token(&headers).ok_or(ApiError::Bearer { invalid: None })?;
    let user_id = service.authenticate_api(token).await?;
    let user = service.store.get_user(&user_id).await.map_err(InternalError::from)?;
    match user {
        Some(user) => {
            Ok(Json(UserInfo { id: user.user_id, username: user.username, email: user.email }).into_response())
        }
        // A client_credentials token names a client, not a user (RFC 6750 §3.1).
        None => {
            let mut response = (
                StatusCode::FORBIDDEN,
                Json(tessera_proto::ErrorResponse {
                    error: ErrorCode::InsufficientScope,
                    error_description: Some("this access token does not act for a user".into()),
                }),
            )
                .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer realm="tessera", error="insufficient_scope", error_description="this access token does not act for a user""#,
                ),
            );
            Ok(response)
        }
    }
}

async fn metrics(State(service): State<AppState>) -> Response {
    let mut response = service.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

async fn healthz(State(service): State<AppState>) -> Response {
    match service.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
