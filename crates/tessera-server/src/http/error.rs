//! `ApiError`: the one place that turns failures into HTTP responses with RFC bodies.

use crate::service::{BearerError, InternalError, ServiceError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::RequestError;
use tessera_proto::{ErrorCode, ErrorResponse};

#[derive(Debug)]
pub enum ApiError {
    /// RFC 6749 §5.2. `basic_tried` decides the `WWW-Authenticate` header on `invalid_client`.
    OAuth { code: ErrorCode, description: String, basic_tried: bool },
    /// RFC 6750 §3.1. `invalid` is `None` when no token was sent at all.
    Bearer { invalid: Option<&'static str> },
    /// Not the client's fault: logged once, answered with an opaque 500.
    Internal(InternalError),
}

impl ApiError {
    pub fn from_request(error: RequestError, basic_tried: bool) -> Self {
        ApiError::OAuth { code: error.code, description: error.description, basic_tried }
    }

    pub fn from_service(error: ServiceError, basic_tried: bool) -> Self {
        match error {
            ServiceError::OAuth { code, description } => ApiError::OAuth { code, description, basic_tried },
            ServiceError::Internal(internal) => ApiError::Internal(internal),
        }
    }
}

impl From<BearerError> for ApiError {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Invalid(reason) => ApiError::Bearer { invalid: Some(reason) },
            BearerError::Internal(internal) => ApiError::Internal(internal),
        }
    }
}

impl From<InternalError> for ApiError {
    fn from(error: InternalError) -> Self {
        ApiError::Internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::OAuth { code, description, basic_tried } => {
                let status =
                    if code == ErrorCode::InvalidClient { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
                let mut response =
                    (status, Json(ErrorResponse { error: code, error_description: Some(description) })).into_response();
                if code == ErrorCode::InvalidClient && basic_tried {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="tessera""#));
                }
                response
            }
            ApiError::Bearer { invalid } => {
                let (challenge, body) = match invalid {
                    None => (
                        r#"Bearer realm="tessera""#,
                        ErrorResponse {
                            error: ErrorCode::InvalidRequest,
                            error_description: Some("this resource needs a bearer access token".into()),
                        },
                    ),
                    Some(_) => (
                        r#"Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid, expired or revoked""#,
                        ErrorResponse {
                            error: ErrorCode::InvalidToken,
                            error_description: Some("the access token is invalid, expired or revoked".into()),
                        },
                    ),
                };
                let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
                response
            }
            ApiError::Internal(error) => {
                // Logged here, once; the client learns nothing of the inside.
                tracing::error!(%error, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(ErrorResponse {
                        error: ErrorCode::ServerError,
                        error_description: Some("internal error; it has been logged".into()),
                    }),
                )
                    .into_response()
            }
        }
    }
}
