//! A thin wrapper over reqwest that sends the bearer token (RFC 6750 §2.1) and, when the resource
//! server rejects it as `invalid_token` (§3.1), refreshes once and retries once.

use oauth2::AccessToken;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{IntoUrl, Method, RequestBuilder, Response, StatusCode};

use crate::error::ClientError;
use crate::source::TokenSource;

/// Calls a protected API with a [`TokenSource`]'s access token.
///
/// The retry needs a second copy of the request, so a request with a streaming body is sent once
/// and its 401, if any, is returned as is.
#[derive(Debug, Clone)]
pub struct ApiClient {
    source: TokenSource,
}

impl ApiClient {
    /// A client that takes its tokens (and its HTTP client) from `source`.
    pub fn new(source: TokenSource) -> Self {
        Self { source }
    }

    /// The token source.
    pub fn token_source(&self) -> &TokenSource {
        &self.source
    }

    /// Starts a request; send it with [`send`](Self::send).
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        self.source.http_client().request(method, url)
    }

    /// Starts a GET request; send it with [`send`](Self::send).
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Sends `request` with `Authorization: Bearer …`. On `401` with `error="invalid_token"`,
    /// gets a new access token (one refresh, shared with concurrent callers) and sends the
    /// request once more. Any other status is returned as is; check it.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let request = request.build().map_err(|error| ClientError::Config(format!("invalid request: {error}")))?;
        let retry = request.try_clone();
        let access_token = self.source.access_token().await?;
        let response = self.execute(request, &access_token).await?;
        let Some(retry) = retry.filter(|_| rejects_token(&response)) else {
            return Ok(response);
        };
        tracing::debug!(url = %retry.url(), "access token rejected; refreshing and retrying once");
        let access_token = self.source.refresh_after_rejection(&access_token).await?;
        self.execute(retry, &access_token).await
    }

    async fn execute(
        &self,
        mut request: reqwest::Request,
        access_token: &AccessToken,
    ) -> Result<Response, ClientError> {
        let url = request.url().to_string();
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", access_token.secret())).map_err(|_| ClientError::Protocol {
                url: url.clone(),
                message: "the access token cannot be sent in an HTTP header".to_owned(),
            })?;
        authorization.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, authorization);
        self.source
            .http_client()
            .execute(request)
            .await
            .map_err(|source| ClientError::Transport { url, source: Box::new(source) })
    }
}

/// True for a 401 whose `WWW-Authenticate: Bearer` challenge says `error="invalid_token"`
/// (RFC 6750 §3).
pub fn rejects_token(response: &Response) -> bool {
    response.status() == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(challenge_is_invalid_token)
}

fn challenge_is_invalid_token(challenge: &str) -> bool {
    let challenge = challenge.trim();
    let is_bearer = challenge.get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"));
    let rest: String = challenge.chars().filter(|c| !c.is_whitespace() && *c != '"').collect();
    is_bearer && rest.to_ascii_lowercase().contains("error=invalid_token")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_the_invalid_token_challenge() {
        let cases = [
            (r#"Bearer error="invalid_token""#, true),
            (r#"Bearer realm="tessera", error="invalid_token", error_description="expired""#, true),
            ("bearer error=invalid_token", true),
            (r#"Bearer realm="tessera""#, false),
            (r#"Bearer error="insufficient_scope""#, false),
            (r#"Basic realm="tessera""#, false),
            ("", false),
        ];
        for (challenge, expected) in cases {
            assert_eq!(challenge_is_invalid_token(challenge), expected, "{challenge}");
        }
    }
}
