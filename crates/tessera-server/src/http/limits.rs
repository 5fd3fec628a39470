//! The request-level limits: a body limit on the OAuth endpoints, a request timeout, and load
//! shedding past the concurrency limit, all tower and axum layers. Their refusals carry the
//! RFC 6749 error body, as every other refusal does.

use super::AppState;
use crate::config::Config;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, ServiceBuilder};

/// The largest body an OAuth endpoint reads. Their requests are a few hundred bytes (an access
/// token to introspect is the longest value); axum's default of 2 MB per request lets a
/// client make the server buffer and parse megabytes for nothing.
pub const OAUTH_BODY_LIMIT: usize = 8 * 1024;

/// How long a refused client is told to wait, in seconds: the overload is expected to pass soon.
const RETRY_AFTER_SECONDS: &str = "1";

/// The body limit of the `/oauth/*` routes; a larger body is answered `413` by
/// [`super::ApiError::Body`].
pub fn oauth_body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(OAUTH_BODY_LIMIT)
}

/// Wraps every route of `router` in the request timeout and the concurrency limit. Past the
/// limit a request is refused at once (`503` and `Retry-After`) rather than queued: a queue
/// would only make every client wait, and the ones that time out would retry on top of it.
pub fn limit_requests(router: Router<AppState>, config: &Config) -> Router<AppState> {
    let max_concurrent_requests = usize::try_from(config.max_concurrent_requests.get()).unwrap_or(usize::MAX);
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refuse))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(max_concurrent_requests))
            .layer(TimeoutLayer::new(config.request_timeout)),
    )
}

/// The answer to a request that a limit stopped.
async fn refuse(error: BoxError) -> Response {
    let description = if error.is::<tower::load_shed::error::Overloaded>() {
        "the server is busy; try again shortly"
    } else if error.is::<tower::timeout::error::Elapsed>() {
        "the request took too long; try again shortly"
    } else {
        tracing::error!(%error, "a request layer failed");
        return super::error::error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            tessera_proto::ErrorCode::ServerError,
            "internal error; it has been logged".into(),
        );
    };
    let mut response = super::error::error_body(
        StatusCode::SERVICE_UNAVAILABLE,
        tessera_proto::ErrorCode::TemporarilyUnavailable,
        description.into(),
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response.into_response()
}
