//! The token endpoint's requests with DPoP (RFC 9449 §5): an `oauth2` HTTP client that adds a
//! fresh proof to each request (so every poll of the device grant has its own `jti`), remembers
//! the server's `DPoP-Nonce`, and on `use_dpop_nonce` (§8) sends the request once more with it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use oauth2::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use oauth2::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

use super::DpopKey;
use crate::clock::{Clock, unix_seconds};

/// The request header that carries a proof (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The response header that carries a server's nonce (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The latest nonce each server (by origin) gave, shared by a token source's clones. Nonces are
/// not secrets and not persisted: a new process learns one from its first refusal.
#[derive(Debug, Default)]
pub(crate) struct Nonces(Mutex<HashMap<String, String>>);

impl Nonces {
    fn map(&self) -> MutexGuard<'_, HashMap<String, String>> {
        // Inserting a string cannot leave the map half-written, so a poisoned lock is usable.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The nonce to put in the next proof for `origin`.
    pub(crate) fn get(&self, origin: &str) -> Option<String> {
        self.map().get(origin).cloned()
    }

    /// Keeps the `DPoP-Nonce` of a response from `origin`; true when there was one.
    pub(crate) fn remember(&self, origin: &str, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers.get(DPOP_NONCE).and_then(|value| value.to_str().ok()) else {
            return false;
        };
        self.map().insert(origin.to_owned(), nonce.to_owned());
        true
    }
}

/// The origin of a request's URL (RFC 6454), as the resources' nonces are kept: whose nonce
/// it is.
fn origin(uri: &Uri) -> String {
    oauth2::url::Url::parse(&uri.to_string()).map(|url| url.origin().ascii_serialization()).unwrap_or_default()
}

/// What signs the token endpoint's proofs.
#[derive(Clone)]
pub(crate) struct Prover {
    pub key: DpopKey,
    pub nonces: Arc<Nonces>,
    pub clock: Arc<dyn Clock>,
}

/// The HTTP client of the token endpoint's exchanges: plain `reqwest`, or with DPoP proofs.
pub(crate) struct Transport {
    http: reqwest::Client,
    prover: Option<Prover>,
}

impl Transport {
    pub(crate) fn new(http: reqwest::Client, prover: Option<Prover>) -> Self {
        Self { http, prover }
    }
}

type Error = HttpClientError<reqwest::Error>;

impl<'c> AsyncHttpClient<'c> for Transport {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let Some(prover) = &self.prover else { return self.http.call(request).await };
            let origin = origin(request.uri());
            let retry = copy(&request)?;
            let response = self.http.call(prover.sign(request, &origin)?).await?;
            let got_nonce = prover.nonces.remember(&origin, response.headers());
            if !(got_nonce && asks_for_nonce(&response)) {
                return Ok(response);
            }
            tracing::debug!(%origin, "the server asks for a DPoP nonce; sending the request once more with it");
            let response = self.http.call(prover.sign(retry, &origin)?).await?;
            prover.nonces.remember(&origin, response.headers());
            Ok(response)
        })
    }
}

impl Prover {
    /// `request` with a proof, by this key, with the nonce last heard from `origin`.
    fn sign(&self, mut request: HttpRequest, origin: &str) -> Result<HttpRequest, Error> {
        let nonce = self.nonces.get(origin);
        let iat = unix_seconds(self.clock.now());
        let proof = self
            .key
            .proof(request.method().as_str(), &request.uri().to_string(), iat, None, nonce.as_deref())
            .map_err(|error| HttpClientError::Other(error.to_string()))?;
        let value = HeaderValue::from_str(&proof).map_err(|error| HttpClientError::Other(error.to_string()))?;
        request.headers_mut().insert(DPOP, value);
        Ok(request)
    }
}

/// RFC 9449 §8: a 400 whose error is `use_dpop_nonce`.
fn asks_for_nonce(response: &HttpResponse) -> bool {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    response.status() == oauth2::http::StatusCode::BAD_REQUEST
        && serde_json::from_slice::<ErrorBody>(response.body()).is_ok_and(|body| body.error == "use_dpop_nonce")
}

/// A second copy of `request` (http's `Request` is not `Clone`), for the retry.
fn copy(request: &HttpRequest) -> Result<HttpRequest, Error> {
    let mut builder = oauth2::http::Request::builder()
        .method(request.method().clone())
        .uri(request.uri().clone())
        .version(request.version());
    if let Some(headers) = builder.headers_mut() {
        headers.extend(request.headers().iter().map(|(name, value)| (name.clone(), value.clone())));
    }
    builder.body(request.body().clone()).map_err(HttpClientError::Http)
}
