//! A thin wrapper over reqwest that sends the access token (RFC 6750 §2.1, or RFC 9449 §7.1's
//! `DPoP` scheme with a proof) and, when the resource server rejects it as `invalid_token`
//! (§3.1), refreshes once and retries once; asked for a DPoP nonce (RFC 9449 §9), it retries
//! once with it.

use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{IntoUrl, Method, RequestBuilder, Response, StatusCode};

use crate::dpop::transport::DPOP;
use crate::error::ClientError;
use crate::profile::TokenType;
use crate::source::{Presentable, TokenSource};

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

    /// Sends `request` with `Authorization: Bearer …`, or, for a DPoP-bound token,
    /// `Authorization: DPoP …` and a `DPoP` proof by the profile's key over this request and
    /// token. On `401` with `error="invalid_token"`, gets a new access token (one refresh,
    /// shared with concurrent callers) and sends the request once more; on `401` with
    /// `error="use_dpop_nonce"` and a `DPoP-Nonce`, sends it once more with that nonce. Any
    /// other status is returned as is; check it.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let mut request = request.build().map_err(|error| ClientError::Config(format!("invalid request: {error}")))?;
        let mut presentable = self.source.presentable().await?;
        let (mut nonce_retried, mut token_retried) = (false, false);
        loop {
            let retry = request.try_clone();
            let (response, got_nonce) = self.execute(request, &presentable).await?;
            let Some(retry) = retry else { return Ok(response) };
            if !nonce_retried && got_nonce && asks_for_nonce(&response) {
                tracing::debug!(url = %retry.url(), "the resource asks for a DPoP nonce; retrying once with it");
                nonce_retried = true;
            } else if !token_retried && rejects_token(&response) {
                tracing::debug!(url = %retry.url(), "access token rejected; refreshing and retrying once");
                token_retried = true;
                presentable = self.source.replacement(&presentable.access_token).await?;
            } else {
                return Ok(response);
            }
            request = retry;
        }
    }

    /// Sends `request` with the token (and a proof); also whether the answer carried a DPoP
    /// nonce, which is kept for the next proof to this origin.
    async fn execute(
        &self,
        mut request: reqwest::Request,
        presentable: &Presentable,
    ) -> Result<(Response, bool), ClientError> {
        let url = request.url().to_string();
        let unsendable = |what: &str| ClientError::Protocol {
            url: url.clone(),
            message: format!("the {what} cannot be sent in an HTTP header"),
        };
        let (scheme, access_token) = (presentable.token_type.as_str(), presentable.access_token.secret());
        let mut authorization =
            HeaderValue::from_str(&format!("{scheme} {access_token}")).map_err(|_| unsendable("access token"))?;
        authorization.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, authorization);
        let origin = request.url().origin().ascii_serialization();
        let dpop = presentable.token_type == TokenType::Dpop;
        if dpop {
            let key = self.source.dpop_key().await?;
            let nonce = self.source.nonces.get(&origin);
            let iat = self.source.unix_now();
            let proof = key.proof(request.method().as_str(), &url, iat, Some(access_token), nonce.as_deref())?;
            request.headers_mut().insert(DPOP, HeaderValue::from_str(&proof).map_err(|_| unsendable("DPoP proof"))?);
        }
        let response = self
            .source
            .http_client()
            .execute(request)
            .await
            .map_err(|source| ClientError::Transport { url: url.clone(), source: Box::new(source) })?;
        let got_nonce = dpop && self.source.nonces.remember(&origin, response.headers());
        Ok((response, got_nonce))
    }
}

/// True for a 401 whose `WWW-Authenticate: Bearer` (RFC 6750 §3) or `DPoP` (RFC 9449 §7.1)
/// challenge says `error="invalid_token"`.
pub fn rejects_token(response: &Response) -> bool {
    challenges_say(response, "invalid_token")
}

/// RFC 9449 §9: a 401 whose `DPoP` challenge says `error="use_dpop_nonce"`.
fn asks_for_nonce(response: &Response) -> bool {
    challenges_say(response, "use_dpop_nonce")
}

fn challenges_say(response: &Response, error: &str) -> bool {
    response.status() == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|challenge| challenge_has_error(challenge, error))
}

fn challenge_has_error(challenge: &str, error: &str) -> bool {
    let challenge = challenge.trim();
    let scheme = challenge.split_whitespace().next().unwrap_or_default();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop");
    let rest: String = challenge.chars().filter(|c| !c.is_whitespace() && *c != '"').collect();
    known && rest.to_ascii_lowercase().contains(&format!("error={error}"))
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
            (r#"Basic error="invalid_token""#, false),
            ("", false),
            (r#"DPoP algs="ES256 EdDSA", error="invalid_token", error_description="not bound""#, true),
            (r#"DPoP algs="ES256 EdDSA", error="invalid_dpop_proof""#, false),
        ];
        for (challenge, expected) in cases {
            assert_eq!(challenge_has_error(challenge, "invalid_token"), expected, "{challenge}");
        }
        let nonce = [
            (r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce""#, true),
            (r#"DPoP algs="ES256", error="invalid_dpop_proof""#, false),
        ];
        for (challenge, expected) in nonce {
            assert_eq!(challenge_has_error(challenge, "use_dpop_nonce"), expected, "{challenge}");
        }
    }
}
