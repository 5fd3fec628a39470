//! The protocol exchanges: the authorization request with PKCE, the authorization-code, password
//! and refresh grants done by the `oauth2` crate (through a [`Transport`] that adds DPoP proofs
//! when the profile uses them), RFC 7009 revocation with reqwest, and their errors mapped to
//! [`ClientError`].

use std::borrow::Cow;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::url::{Url, form_urlencoded};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet, ErrorResponse,
    HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardErrorResponse, StandardRevocableToken,
    StandardTokenResponse, TokenResponse as _, TokenUrl,
};

use crate::dpop::transport::Transport;
use crate::error::{ClientError, OAuthError};
use crate::id_token::IdToken;
use crate::profile::{ClientAuthMethod, ClientSettings, TokenResponse, TokenSet, TokenType};

/// The one field OpenID Connect adds to the token response (Core §3.1.3.3).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

/// A token response, with the id token when there is one.
pub(crate) type GrantResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// `oauth2`'s basic client, but reading `id_token` from token responses.
type Client<HasAuthUrl, HasTokenUrl> = oauth2::Client<
    BasicErrorResponse,
    GrantResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasTokenUrl,
>;
type OAuthClient = Client<EndpointNotSet, EndpointSet>;

pub(crate) fn oauth_client(settings: &ClientSettings) -> Result<OAuthClient, ClientError> {
    let token_url = TokenUrl::new(settings.token_endpoint.clone()).map_err(|error| {
        ClientError::Config(format!("token endpoint {:?} is not a URL: {error}", settings.token_endpoint))
    })?;
    let client = Client::<EndpointNotSet, EndpointNotSet>::new(ClientId::new(settings.client_id.clone()))
        .set_token_uri(token_url);
    // oauth2 sends client_id alone in the body when no secret is set, which is how a public
    // client authenticates (RFC 6749 §3.2.1).
    Ok(match (&settings.client_secret, settings.client_auth) {
        (_, ClientAuthMethod::None) | (None, _) => client.set_auth_type(AuthType::RequestBody),
        (Some(secret), ClientAuthMethod::ClientSecretBasic) => {
            client.set_client_secret(secret.clone()).set_auth_type(AuthType::BasicAuth)
        }
        (Some(secret), ClientAuthMethod::ClientSecretPost) => {
            client.set_client_secret(secret.clone()).set_auth_type(AuthType::RequestBody)
        }
    })
}

fn scopes(scope: Option<&str>) -> Vec<Scope> {
    scope.unwrap_or_default().split_whitespace().map(|scope| Scope::new(scope.to_owned())).collect()
}

/// A fresh authorization request (RFC 6749 §4.1.1) for `redirect_uri`: the URL to open in the
/// browser, its random `state` (§10.12) and the PKCE code verifier whose S256 challenge the URL
/// carries (RFC 7636 §4.1–4.3). It also carries `nonce` (OpenID Connect Core §3.1.2.1), which
/// the id token must echo; a server that does not speak OpenID Connect ignores it.
pub(crate) fn authorization_request(
    settings: &ClientSettings,
    redirect_uri: &RedirectUrl,
    nonce: &CsrfToken,
) -> Result<(Url, CsrfToken, PkceCodeVerifier), ClientError> {
    let endpoint = settings.authorization_endpoint.as_deref().ok_or_else(|| {
        ClientError::Config("the server publishes no authorization endpoint, so a browser login is impossible".into())
    })?;
    let auth_url = AuthUrl::new(endpoint.to_owned())
        .map_err(|error| ClientError::Config(format!("authorization endpoint {endpoint:?} is not a URL: {error}")))?;
    let client =
        Client::<EndpointNotSet, EndpointNotSet>::new(ClientId::new(settings.client_id.clone())).set_auth_uri(auth_url);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes(settings.scope.as_deref()))
        .set_pkce_challenge(challenge)
        .set_redirect_uri(Cow::Borrowed(redirect_uri))
        .add_extra_param("nonce", nonce.secret())
        .url();
    Ok((url, state, verifier))
}

/// The authorization-code grant (RFC 6749 §4.1.3) with the PKCE code verifier (RFC 7636 §4.5).
/// `redirect_uri` must be the one of the authorization request.
pub(crate) async fn authorization_code_grant(
    http: &Transport,
    settings: &ClientSettings,
    code: AuthorizationCode,
    pkce_verifier: PkceCodeVerifier,
    redirect_uri: &RedirectUrl,
) -> Result<GrantResponse, ClientError> {
    let client = oauth_client(settings)?;
    client
        .exchange_code(code)
        .set_pkce_verifier(pkce_verifier)
        .set_redirect_uri(Cow::Borrowed(redirect_uri))
        .request_async(http)
        .await
        .map_err(|error| map_request_error(&settings.token_endpoint, error))
}

/// The password grant (RFC 6749 §4.3).
pub(crate) async fn password_grant(
    http: &Transport,
    settings: &ClientSettings,
    username: &str,
    password: &ResourceOwnerPassword,
) -> Result<GrantResponse, ClientError> {
    let client = oauth_client(settings)?;
    let username = ResourceOwnerUsername::new(username.to_owned());
    client
        .exchange_password(&username, password)
        .add_scopes(scopes(settings.scope.as_deref()))
        .request_async(http)
        .await
        .map_err(|error| map_request_error(&settings.token_endpoint, error))
}

/// The refresh grant (RFC 6749 §6). No `scope` is sent, so the new access token keeps the
/// original grant's scope.
pub(crate) async fn refresh_grant(
    http: &Transport,
    settings: &ClientSettings,
    refresh_token: &RefreshToken,
) -> Result<GrantResponse, ClientError> {
    let client = oauth_client(settings)?;
    client
        .exchange_refresh_token(refresh_token)
        .request_async(http)
        .await
        .map_err(|error| map_request_error(&settings.token_endpoint, error))
}

/// Revokes a refresh token (RFC 7009), which at Tessera ends its whole family.
///
/// Written with reqwest rather than `oauth2`, whose `revoke_token` refuses plain-HTTP endpoints
/// (RFC 7009 §2.1 requires TLS), while Tessera's default issuer is `http://127.0.0.1:8080` and its
/// token endpoint, which `oauth2` does accept over HTTP, is just as sensitive. The request is the
/// token endpoint's client authentication plus two form fields.
pub(crate) async fn revoke_refresh_token(
    http: &reqwest::Client,
    settings: &ClientSettings,
    refresh_token: &RefreshToken,
) -> Result<(), ClientError> {
    let endpoint = settings
        .revocation_endpoint
        .as_deref()
        .ok_or_else(|| ClientError::Config("the server publishes no revocation endpoint".to_owned()))?;
    let mut form = vec![("token", refresh_token.secret().as_str()), ("token_type_hint", "refresh_token")];
    let mut request = http.post(endpoint).header(reqwest::header::ACCEPT, "application/json");
    match (&settings.client_secret, settings.client_auth) {
        (Some(secret), ClientAuthMethod::ClientSecretBasic) => {
            // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
            let encode = |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(&settings.client_id), Some(encode(secret.secret())));
        }
        (Some(secret), ClientAuthMethod::ClientSecretPost) => {
            form.push(("client_id", settings.client_id.as_str()));
            form.push(("client_secret", secret.secret().as_str()));
        }
        (_, ClientAuthMethod::None) | (None, _) => {
            form.push(("client_id", settings.client_id.as_str()));
        }
    }
    let transport =
        |source: reqwest::Error| ClientError::Transport { url: endpoint.to_owned(), source: Box::new(source) };
    let response = request.form(&form).send().await.map_err(transport)?;
    let status = response.status();
    // RFC 7009 §2.2: 200 both when the token was revoked and when it was already invalid.
    if status == reqwest::StatusCode::OK {
        return Ok(());
    }
    let body = response.bytes().await.map_err(transport)?;
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) => Err(ClientError::OAuth(OAuthError {
            error: error.error,
            error_description: error.error_description,
            error_uri: error.error_uri,
        })),
        Err(_) => Err(ClientError::Protocol {
            url: endpoint.to_owned(),
            message: format!("revocation answered HTTP {status}"),
        }),
    }
}

/// An RFC 6749 §5.2 error body.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_uri: Option<String>,
}

/// The new token set after a successful response. A refresh response without a refresh token
/// keeps the previous one (RFC 6749 §6), and one without `scope` keeps the previous scope (§5.1).
/// An id token is kept likewise when a refresh response has none (OpenID Connect Core §12.2).
pub(crate) fn token_set(response: &GrantResponse, requested_at: u64, previous: Option<&TokenSet>) -> TokenSet {
    let scope = response
        .scopes()
        .map(|scopes| scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(" "))
        .or_else(|| previous.and_then(|previous| previous.scope.clone()));
    TokenSet {
        access_token: response.access_token().clone(),
        token_type: TokenType::from_response(response.token_type().as_ref()),
        obtained_at: requested_at,
        expires_at: response.expires_in().map(|lifetime| requested_at.saturating_add(lifetime.as_secs())),
        refresh_token: response
            .refresh_token()
            .cloned()
            .or_else(|| previous.and_then(|previous| previous.refresh_token.clone())),
        scope,
        id_token: response
            .extra_fields()
            .id_token
            .clone()
            .or_else(|| previous.and_then(|previous| previous.id_token.clone())),
    }
}

/// The response as this crate exposes it.
pub(crate) fn token_response(response: &GrantResponse) -> TokenResponse {
    TokenResponse {
        token_type: match response.token_type() {
            // RFC 6750 spells it "Bearer", RFC 9449 "DPoP"; oauth2 normalizes to lower case.
            BasicTokenType::Bearer => "Bearer".to_owned(),
            other if TokenType::from_response(other.as_ref()) == TokenType::Dpop => "DPoP".to_owned(),
            other => other.as_ref().to_owned(),
        },
        access_token: response.access_token().clone(),
        expires_in: response.expires_in().map(|lifetime| lifetime.as_secs()),
        refresh_token: response.refresh_token().cloned(),
        scope: response.scopes().map(|scopes| scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(" ")),
        id_token: response.extra_fields().id_token.clone(),
    }
}

pub(crate) fn map_request_error<T>(
    url: &str,
    error: RequestTokenError<HttpClientError<reqwest::Error>, StandardErrorResponse<T>>,
) -> ClientError
where
    T: oauth2::ErrorResponseType + AsRef<str> + Send + Sync + 'static,
    StandardErrorResponse<T>: ErrorResponse,
{
    match error {
        RequestTokenError::ServerResponse(response) => ClientError::OAuth(OAuthError {
            error: response.error().as_ref().to_owned(),
            error_description: response.error_description().cloned(),
            error_uri: response.error_uri().cloned(),
        }),
        RequestTokenError::Request(HttpClientError::Reqwest(source)) => {
            ClientError::Transport { url: url.to_owned(), source }
        }
        RequestTokenError::Request(other) => ClientError::Transport { url: url.to_owned(), source: Box::new(other) },
        // The raw body is deliberately dropped: a token response holds secrets.
        RequestTokenError::Parse(error, _body) => ClientError::Protocol {
            url: url.to_owned(),
            message: format!("not an OAuth 2.0 response (could not parse `{}`)", error.path()),
        },
        RequestTokenError::Other(message) => ClientError::Protocol { url: url.to_owned(), message },
    }
}
