//! OpenID Connect endpoints: discovery (Discovery 1.0 §3), userinfo (Core §5.3) and, in
//! [`logout`], the end-session endpoint (RP-Initiated Logout 1.0).

pub mod logout;

use super::{ApiError, AppState, BearerRefusal};
use crate::service::dpop_access::{PresentedToken, Scheme};
use crate::service::userinfo::UserInfoRefusal;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use tessera_core::request::collect_parameters;
use tessera_proto::{ErrorCode, OpenIdMetadata, ServerMetadata, UserInfoClaims};

/// The scopes whose claims this server knows (Core §5.4), advertised in both documents.
pub const OPENID_SCOPES: &[&str] = &["openid", "profile", "email"];

/// `GET /.well-known/openid-configuration`: the RFC 8414 document, unchanged, plus the
/// OpenID provider fields.
pub fn openid_metadata(service: &AppState, oauth: ServerMetadata) -> OpenIdMetadata {
    let issuer = service.issuer();
    let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect::<Vec<_>>();
    let algorithm = service.config().signing_alg.name();
    OpenIdMetadata {
        userinfo_endpoint: format!("{issuer}/oauth/userinfo"),
        end_session_endpoint: format!("{issuer}/oauth/logout"),
        id_token_signing_alg_values_supported: strings(&[algorithm]),
        subject_types_supported: strings(&["public"]),
        response_modes_supported: strings(&["query"]),
        claims_supported: strings(&[
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "sid",
            "amr",
            "preferred_username",
            "name",
            "updated_at",
            "email",
            "email_verified",
        ]),
        prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        oauth,
    }
}

/// `GET, POST /oauth/userinfo` (Core §5.3): the bearer token in the `Authorization` header or,
/// on POST, in a form body's `access_token` (RFC 6750 §2.2) — one of them, not both. Refusals
/// carry the same `WWW-Authenticate` challenges as `/api/1.0/users/me`.
pub async fn userinfo(
    State(service): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserInfoClaims>, ApiError> {
    let from_body = form_access_token(&headers, &body)?;
    let from_header = super::dpop::presented_token(&headers, method.as_str(), "/oauth/userinfo")?;
    let presented = match (from_header, from_body.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::OAuth {
                code: ErrorCode::InvalidRequest,
                description: "send the access token once: in the Authorization header or in the body".into(),
            });
        }
        (Some(presented), None) => presented,
        (None, Some(token)) => PresentedToken {
            scheme: Scheme::Bearer,
            token,
            proof: None,
            method: method.as_str(),
            path: "/oauth/userinfo",
        },
        (None, None) => return Err(ApiError::Bearer(BearerRefusal::Missing)),
    };
    match service.userinfo(&presented).await? {
        Ok(claims) => Ok(Json(claims)),
        Err(refusal @ (UserInfoRefusal::NotOpenId | UserInfoRefusal::NoUser)) => {
            Err(ApiError::Bearer(BearerRefusal::InsufficientScope(refusal.description())))
        }
    }
}

/// RFC 6750 §2.2: `access_token` in an `application/x-www-form-urlencoded` body.
fn form_access_token(headers: &HeaderMap, body: &[u8]) -> Result<Option<String>, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form || body.is_empty() {
        return Ok(None);
    }
    let malformed =
        |description: &str| ApiError::OAuth { code: ErrorCode::InvalidRequest, description: description.into() };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| malformed("the request body is not a valid form"))?;
    let params = collect_parameters(pairs).map_err(|error| malformed(&error.description))?;
    Ok(params.get("access_token").filter(|token| !token.is_empty()).cloned())
}
