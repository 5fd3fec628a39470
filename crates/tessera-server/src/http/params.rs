//! Request bodies of the OAuth endpoints: `application/x-www-form-urlencoded` (RFC 6749) and
//! `application/json` (what the guide's axios recipe sends), both reduced to ordered
//! key/value pairs so that repeated parameters can be refused; and the extractors that hand
//! the token, revocation and introspection handlers their parameters and client, rejecting
//! with [`ApiError`].

use super::{ApiError, AppState};
use crate::store::ClientRow;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use std::collections::HashMap;
use tessera_core::request::{client_credentials, collect_parameters, describe_parameter, parse_basic};
use tessera_core::{ClientAuthMethod, RequestError, TokenRequest, TokenTypeHint};
use tessera_proto::ErrorCode;

/// An OAuth endpoint's body parameters (de-duplicated) and its HTTP Basic credentials.
pub struct OAuthParameters {
    pub basic: Option<(String, String)>,
    pub parameters: HashMap<String, String>,
    /// `Some(ClientSecretBasic)` if the request carried `Authorization: Basic`, even a
    /// malformed one: an `invalid_client` answer then carries a Basic challenge.
    pub attempted: Option<ClientAuthMethod>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthParameters {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let attempted = basic_tried(&headers).then_some(ClientAuthMethod::ClientSecretBasic);
        let refuse = |error| ApiError::from_request(error, attempted);
        let basic = basic_credentials(&headers).map_err(refuse)?;
        let body = Bytes::from_request(request, state).await.map_err(ApiError::Body)?;
        let parameters = body_parameters(&headers, &body).map_err(refuse)?;
        Ok(OAuthParameters { basic, parameters, attempted })
    }
}

/// A checked token request (RFC 6749 §3.2); its client is not authenticated yet.
pub struct TokenEndpointRequest(pub TokenRequest);

impl<S: Send + Sync> FromRequest<S> for TokenEndpointRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let OAuthParameters { basic, parameters, attempted } = OAuthParameters::from_request(request, state).await?;
        let request =
            TokenRequest::parse(&parameters, basic).map_err(|error| ApiError::from_request(error, attempted))?;
        Ok(TokenEndpointRequest(request))
    }
}

/// An authenticated client and the `token` it asks about, for revocation (RFC 7009 §2.1)
/// and introspection (RFC 7662 §2.1): the same client authentication as the token endpoint,
/// parameters from the same body.
pub struct TokenOperation {
    pub client: std::sync::Arc<ClientRow>,
    pub parameters: HashMap<String, String>,
}

impl TokenOperation {
    /// The required `token` parameter.
    pub fn token(&self) -> Result<&str, ApiError> {
        self.parameters.get("token").map(String::as_str).ok_or_else(|| ApiError::OAuth {
            code: ErrorCode::InvalidRequest,
            description: "missing required parameter `token`".into(),
        })
    }

    pub fn hint(&self) -> Option<TokenTypeHint> {
        TokenTypeHint::from_parameters(&self.parameters)
    }
}

impl FromRequest<AppState> for TokenOperation {
    type Rejection = ApiError;

    async fn from_request(request: Request, service: &AppState) -> Result<Self, ApiError> {
        let OAuthParameters { basic, parameters, attempted } = OAuthParameters::from_request(request, service).await?;
        let credentials =
            client_credentials(basic, &parameters).map_err(|error| ApiError::from_request(error, attempted))?;
        let client = service.authenticate_client(&credentials).await?;
        Ok(TokenOperation { client, parameters })
    }
}

/// A JSON object as ordered pairs; repeated keys are kept (serde_json's maps would drop them).
struct JsonPairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for JsonPairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = JsonPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonPairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(text) => text,
                        serde_json::Value::Number(number) => number.to_string(),
                        serde_json::Value::Null => String::new(),
                        _ => {
                            return Err(A::Error::custom(format!("{} must be a string", describe_parameter(&key))));
                        }
                    };
                    pairs.push((key, value));
                }
                Ok(JsonPairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

/// Parses the body by its content type into de-duplicated parameters. Public for the fuzz
/// target and property tests, which feed it arbitrary bodies.
pub fn body_parameters(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, RequestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let pairs = match content_type.as_deref() {
        Some("application/x-www-form-urlencoded") | None => serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map_err(|_| RequestError::new(ErrorCode::InvalidRequest, "the form body is malformed"))?,
        Some("application/json") => {
            serde_json::from_slice::<JsonPairs>(body)
                .map_err(|error| {
                    RequestError::new(
                        ErrorCode::InvalidRequest,
                        format!("the JSON body is malformed: {}", json_reason(&error)),
                    )
                })?
                .0
        }
        Some(_) => {
            return Err(RequestError::new(
                ErrorCode::InvalidRequest,
                "unsupported content type: send application/x-www-form-urlencoded or application/json",
            ));
        }
    };
    collect_parameters(pairs)
}

/// serde_json's message without echoing the input (it may hold a secret).
fn json_reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.split(" at line ").next() {
        // Our own message from `JsonPairs`, which names only known parameters.
        Some(reason) if reason.ends_with(" must be a string") => reason.to_owned(),
        _ => match error.classify() {
            serde_json::error::Category::Eof => "unexpected end of input".into(),
            serde_json::error::Category::Syntax => "syntax error".into(),
            _ => "expected an object of string values".into(),
        },
    }
}

/// The decoded HTTP Basic credentials, if the request carries `Authorization: Basic`.
/// Other schemes are not client authentication and are ignored here.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, RequestError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let text =
        value.to_str().map_err(|_| RequestError::new(ErrorCode::InvalidClient, "malformed HTTP Basic credentials"))?;
    if !text.trim_start().get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic ")) {
        return Ok(None);
    }
    parse_basic(text).map(Some)
}

fn basic_tried(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|text| text.trim_start().get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic ")))
}
