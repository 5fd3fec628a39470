//! `ApiError`: the one place that turns failures into HTTP responses with RFC bodies.

use crate::service::dpop_access::{AccessError, DpopRefusal};
use crate::service::{BearerError, InternalError, ServiceError, describe_wait};
use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tessera_core::{ClientAuthMethod, RequestError};
use tessera_proto::{ErrorCode, ErrorResponse};

#[derive(Debug)]
pub enum ApiError {
    /// RFC 6749 §5.2, 400, any code but `invalid_client`.
    OAuth { code: ErrorCode, description: String },
    /// RFC 6749 §5.2 `invalid_client`, 401. A client that tried HTTP Basic (`attempted`) is
    /// answered with a Basic challenge.
    InvalidClient { description: String, attempted: Option<ClientAuthMethod> },
    /// RFC 6750 §3: the protected resource refuses the request.
    Bearer(BearerRefusal),
    /// RFC 9449 §7.1: the protected resource refuses the request on DPoP's grounds (401 with
    /// a `DPoP` challenge).
    Dpop(DpopRefusal),
    /// The body could not be read (too large, say): `413` or `400`, `invalid_request`.
    Body(BytesRejection),
    /// RFC 6585 §4: too many sign-in attempts; `429` with `Retry-After` and `invalid_grant`.
    Throttled { retry_after: Duration },
    /// The password checks of this instance are saturated: `503` with `Retry-After`,
    /// `temporarily_unavailable`, at once rather than queued.
    PasswordChecksBusy,
    /// Not the client's fault: logged once, answered with an opaque 500.
    Internal(InternalError),
}

/// RFC 6750 §3.1: why the protected resource refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRefusal {
    /// No bearer token was sent at all (401, no error code in the challenge).
    Missing,
    /// The token is invalid, expired or revoked (401 `invalid_token`).
    InvalidToken,
    /// The token is valid but not good for this resource (403 `insufficient_scope`).
    InsufficientScope(&'static str),
}

impl ApiError {
    /// A request refused before anything was looked up; `attempted` is the client
    /// authentication the request tried, if known.
    pub fn from_request(error: RequestError, attempted: Option<ClientAuthMethod>) -> Self {
        match error.code {
            ErrorCode::InvalidClient => ApiError::InvalidClient { description: error.description, attempted },
            code => ApiError::OAuth { code, description: error.description },
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::ClientAuthentication { method } => {
                ApiError::InvalidClient { description: "client authentication failed".into(), attempted: Some(method) }
            }
            ServiceError::OAuth { code: ErrorCode::InvalidClient, description } => {
                ApiError::InvalidClient { description, attempted: None }
            }
            ServiceError::OAuth { code, description } => ApiError::OAuth { code, description },
            ServiceError::Throttled { retry_after } => ApiError::Throttled { retry_after },
            ServiceError::PasswordChecksBusy => ApiError::PasswordChecksBusy,
            ServiceError::Internal(internal) => ApiError::Internal(internal),
        }
    }
}

impl From<BearerError> for ApiError {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Invalid(_) => ApiError::Bearer(BearerRefusal::InvalidToken),
            BearerError::Internal(internal) => ApiError::Internal(internal),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Bearer(error) => error.into(),
            AccessError::Dpop(refusal) => ApiError::Dpop(refusal),
        }
    }
}

/// RFC 9449 §7.1: the `DPoP` challenge, naming the algorithms proofs may use.
fn dpop_challenge(code: ErrorCode, description: &str) -> Response {
    let algorithms = tessera_core::dpop::SIGNING_ALGORITHMS.join(" ");
    let challenge = format!(r#"DPoP algs="{algorithms}", error="{code}", error_description="{description}""#);
    let response = error_body(StatusCode::UNAUTHORIZED, code, description.to_owned());
    // The descriptions are our own constants: valid header values.
    match HeaderValue::from_str(&challenge) {
        Ok(challenge) => with_challenge(response, challenge),
        Err(_) => with_challenge(response, HeaderValue::from_static(r#"DPoP algs="ES256 EdDSA""#)),
    }
}

impl From<InternalError> for ApiError {
    fn from(error: InternalError) -> Self {
        ApiError::Internal(error)
    }
}

pub(super) fn error_body(status: StatusCode, error: ErrorCode, description: String) -> Response {
    (status, Json(ErrorResponse { error, error_description: Some(description) })).into_response()
}

/// `response` with `Retry-After: seconds` (RFC 9110 §10.2.3).
pub(super) fn with_retry_after(mut response: Response, retry_after: Duration) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
    response
}

fn with_challenge(mut response: Response, challenge: HeaderValue) -> Response {
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::OAuth { code, description } => error_body(StatusCode::BAD_REQUEST, code, description),
            ApiError::InvalidClient { description, attempted } => {
                let response = error_body(StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient, description);
                if attempted == Some(ClientAuthMethod::ClientSecretBasic) {
                    with_challenge(response, HeaderValue::from_static(r#"Basic realm="tessera""#))
                } else {
                    response
                }
            }
            ApiError::Bearer(BearerRefusal::Missing) => with_challenge(
                error_body(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidRequest,
                    "this resource needs a bearer access token".into(),
                ),
                HeaderValue::from_static(r#"Bearer realm="tessera""#),
            ),
            ApiError::Bearer(BearerRefusal::InvalidToken) => {
                const DESCRIPTION: &str = "the access token is invalid, expired or revoked";
                with_challenge(
                    error_body(StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken, DESCRIPTION.into()),
                    HeaderValue::from_static(
                        r#"Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid, expired or revoked""#,
                    ),
                )
            }
            ApiError::Bearer(BearerRefusal::InsufficientScope(description)) => {
                let challenge =
                    format!(r#"Bearer realm="tessera", error="insufficient_scope", error_description="{description}""#);
                let response = error_body(StatusCode::FORBIDDEN, ErrorCode::InsufficientScope, description.into());
                // The description is one of our own constants: it is a valid header value.
                match HeaderValue::from_str(&challenge) {
                    Ok(challenge) => with_challenge(response, challenge),
                    Err(_) => with_challenge(response, HeaderValue::from_static(r#"Bearer realm="tessera""#)),
                }
            }
            ApiError::Dpop(DpopRefusal::InvalidToken(description)) => {
                dpop_challenge(ErrorCode::InvalidToken, description)
            }
            ApiError::Dpop(DpopRefusal::Proof(error)) => {
                dpop_challenge(ErrorCode::InvalidDpopProof, &error.to_string())
            }
            ApiError::Body(rejection) => {
                // axum's own answer is plain text; ours is the RFC body, and echoes nothing.
                let status = rejection.status();
                let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!("the request body is larger than the {} bytes allowed", super::limits::OAUTH_BODY_LIMIT)
                } else {
                    "the request body could not be read".into()
                };
                error_body(status, ErrorCode::InvalidRequest, description)
            }
            ApiError::Throttled { retry_after } => {
                let description =
                    format!("too many failed sign-ins for this username; try again in {}", describe_wait(retry_after));
                let response = error_body(StatusCode::TOO_MANY_REQUESTS, ErrorCode::InvalidGrant, description);
                with_retry_after(response, retry_after)
            }
            ApiError::PasswordChecksBusy => with_retry_after(
                error_body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    "too many sign-ins are being checked; try again shortly".into(),
                ),
                Duration::from_secs(1),
            ),
            // The store could not keep the request's writes (a failed group commit, a full
            // disk) or cannot be reached: nothing was done, so the client may simply retry
            // (RFC 9110 §15.6.4, §10.2.3).
            ApiError::Internal(InternalError::Store(error)) if error.is_unavailable() => {
                tracing::warn!(%error, "store unavailable; answered 503");
                let mut response = error_body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    "the server could not store this request; retry shortly".into(),
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            ApiError::Internal(error) => {
                // Logged here, once; the client learns nothing of the inside.
                tracing::error!(%error, "internal error");
                error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "internal error; it has been logged".into(),
                )
            }
        }
    }
}
