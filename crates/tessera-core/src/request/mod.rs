//! Token-endpoint requests (RFC 6749 §3.2, §4.1.3, §4.3, §4.4, §6): raw parameters in,
//! a checked [`TokenRequest`] or an RFC error out. "Parse, don't validate".

use crate::scope::Scope;
use crate::secret::{ClientSecret, Password, RefreshToken};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use tessera_proto::{ClientId, ErrorCode};

/// The grant types Tessera implements (RFC 6749 §4, §6). The strings are what clients send
/// as `grant_type` and what is stored in a client's `grant_types`.
///
/// Declared in alphabetical order, so that sorting grants sorts their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    RefreshToken,
    /// RFC 8628 §3.4 (its name, a URN, sorts after the others).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::DeviceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// `None` for a grant type Tessera does not implement.
    pub fn parse(text: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|grant| grant.as_str() == text)
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client authenticates at the token, revocation and introspection endpoints
/// (RFC 6749 §2.3; the names are RFC 7591 §2's `token_endpoint_auth_method` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client: it names itself and proves nothing.
    None,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }
}

/// RFC 7009 §2.1 / RFC 7662 §2.1 `token_type_hint`. An unknown hint is ignored, as if absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
}

impl TokenTypeHint {
    pub fn parse(text: &str) -> Option<TokenTypeHint> {
        match text {
            "access_token" => Some(TokenTypeHint::AccessToken),
            "refresh_token" => Some(TokenTypeHint::RefreshToken),
            _ => None,
        }
    }

    /// The hint of a request's parameters, if any and known.
    pub fn from_parameters(params: &HashMap<String, String>) -> Option<TokenTypeHint> {
        params.get("token_type_hint").and_then(|hint| TokenTypeHint::parse(hint))
    }
}

/// A request the endpoint refuses before looking anything up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct RequestError {
    pub code: ErrorCode,
    pub description: String,
}

impl RequestError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        RequestError { code, description: description.into() }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
}

/// How the client said who it is (RFC 6749 §2.3). Exactly one method per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_secret_basic`: HTTP Basic, the guide's Postman recipe.
    Basic { client_id: ClientId, secret: ClientSecret },
    /// `client_secret_post`: `client_id` and `client_secret` in the body, the Python and cURL recipes.
    Post { client_id: ClientId, secret: ClientSecret },
    /// `none`: a public client names itself and proves nothing (RFC 6749 §2.1).
    Public { client_id: ClientId },
}

impl ClientCredentials {
    pub fn method(&self) -> ClientAuthMethod {
        match self {
            ClientCredentials::Basic { .. } => ClientAuthMethod::ClientSecretBasic,
            ClientCredentials::Post { .. } => ClientAuthMethod::ClientSecretPost,
            ClientCredentials::Public { .. } => ClientAuthMethod::None,
        }
    }

    pub fn client_id(&self) -> &ClientId {
        match self {
            ClientCredentials::Basic { client_id, .. }
            | ClientCredentials::Post { client_id, .. }
            | ClientCredentials::Public { client_id } => client_id,
        }
    }

    pub fn secret(&self) -> Option<&ClientSecret> {
        match self {
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => Some(secret),
            ClientCredentials::Public { .. } => None,
        }
    }
}

/// The grant being asked for, with its required parameters present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    /// RFC 6749 §4.3.
    Password { username: String, password: Password, scope: Option<Scope> },
    /// RFC 6749 §6.
    RefreshToken { refresh_token: RefreshToken, scope: Option<Scope> },
    /// RFC 6749 §4.4.
    ClientCredentials { scope: Option<Scope> },
    /// RFC 6749 §4.1.3 with RFC 7636 §4.5.
    AuthorizationCode { code: String, redirect_uri: Option<String>, code_verifier: Option<String> },
    /// RFC 8628 §3.4.
    DeviceCode { device_code: String },
}

impl GrantRequest {
    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::Password { .. } => GrantType::Password,
            GrantRequest::RefreshToken { .. } => GrantType::RefreshToken,
            GrantRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            GrantRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            GrantRequest::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub client: ClientCredentials,
    pub grant: GrantRequest,
}

/// The parameter names the OAuth endpoints define (RFC 6749, 7009, 7662, 7636), the only
/// names an error description may repeat: any other name came from the client and may be a
/// secret pasted in the wrong place, or markup.
const KNOWN_PARAMETERS: [&str; 17] = [
    "client_id",
    "client_secret",
    "code",
    "code_challenge",
    "code_challenge_method",
    "code_verifier",
    "device_code",
    "grant_type",
    "password",
    "redirect_uri",
    "refresh_token",
    "response_type",
    "scope",
    "state",
    "token",
    "token_type_hint",
    "username",
];

/// "parameter `scope`" for a parameter the RFCs define, "a parameter" for any other: error
/// descriptions never echo what the client sent.
pub fn describe_parameter(name: &str) -> String {
    match KNOWN_PARAMETERS.iter().find(|known| **known == name) {
        Some(known) => format!("parameter `{known}`"),
        None => "a parameter".to_owned(),
    }
}

/// Collects parameters into a map, refusing repeats (RFC 6749 §3.2: "Request and response
/// parameters MUST NOT be included more than once") and dropping empty values (§3.1:
/// "Parameters sent without a value MUST be treated as if they were omitted").
pub fn collect_parameters(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<HashMap<String, String>, RequestError> {
    let mut seen = HashMap::new();
    let mut params = HashMap::new();
    for (key, value) in pairs {
        // No OAuth parameter contains a NUL character, and PostgreSQL refuses it in text: turn
        // it away here as the client's mistake rather than as a database error.
        if key.contains('\0') || value.contains('\0') {
            let name = if key.contains('\0') { "a parameter name".to_owned() } else { describe_parameter(&key) };
            return Err(RequestError::invalid_request(format!("{name} contains a NUL character")));
        }
        if seen.insert(key.clone(), ()).is_some() {
            return Err(RequestError::invalid_request(format!("{} was sent more than once", describe_parameter(&key))));
        }
        if !value.is_empty() {
            params.insert(key, value);
        }
    }
    Ok(params)
}

/// Decodes an `Authorization: Basic` value into form-urlencoded id and secret (RFC 6749 §2.3.1).
pub fn parse_basic(header_value: &str) -> Result<(String, String), RequestError> {
    let malformed = || RequestError::new(ErrorCode::InvalidClient, "malformed HTTP Basic credentials");
    let (scheme, encoded) = header_value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if id.is_empty() || id.contains('\0') || secret.contains('\0') {
        return Err(malformed());
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one component (`+` is a space).
///
/// Hand-written on purpose: `form_urlencoded` passes a malformed escape (`%4`, `%+1`) through
/// verbatim, so a mangled client secret would be compared as if it were meant; here it is
/// `None`, and the client gets `invalid_client` for malformed credentials.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                // from_str_radix would accept a sign ("%+1"): insist on two hex digits.
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn optional_scope(params: &HashMap<String, String>) -> Result<Option<Scope>, RequestError> {
    params
        .get("scope")
        .map(|text| {
            // The scope error names the token; the answer must not.
            Scope::parse(text).map_err(|_| {
                RequestError::new(
                    ErrorCode::InvalidScope,
                    "the scope contains a character RFC 6749 §3.3 does not allow",
                )
            })
        })
        .transpose()
}

fn required(params: &HashMap<String, String>, name: &str) -> Result<String, RequestError> {
    params
        .get(name)
        .cloned()
        .ok_or_else(|| RequestError::invalid_request(format!("missing required parameter `{name}`")))
}

/// Identifies the client from the Basic header (already decoded) and the body parameters.
pub fn client_credentials(
    basic: Option<(String, String)>,
    params: &HashMap<String, String>,
) -> Result<ClientCredentials, RequestError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    match basic {
        Some((client_id, secret)) => {
            if body_secret.is_some() {
                return Err(RequestError::invalid_request(
                    "client authenticated with both HTTP Basic and client_secret; use one method",
                ));
            }
            if body_id.is_some_and(|id| id != &client_id) {
                return Err(RequestError::invalid_request("client_id in the body differs from HTTP Basic"));
            }
            Ok(ClientCredentials::Basic {
                client_id: ClientId::new(client_id),
                secret: ClientSecret::from_presented(secret),
            })
        }
        None => match (body_id, body_secret) {
            (Some(client_id), Some(secret)) => Ok(ClientCredentials::Post {
                client_id: ClientId::new(client_id.as_str()),
                secret: ClientSecret::from_presented(secret.clone()),
            }),
            (Some(client_id), None) => Ok(ClientCredentials::Public { client_id: ClientId::new(client_id.as_str()) }),
            (None, _) => Err(RequestError::new(
                ErrorCode::InvalidClient,
                "client authentication is required (HTTP Basic or client_id/client_secret)",
            )),
        },
    }
}

impl TokenRequest {
    /// Parses a token request from its parameters (already de-duplicated by
    /// [`collect_parameters`]) and the decoded Basic credentials, if any.
    pub fn parse(params: &HashMap<String, String>, basic: Option<(String, String)>) -> Result<Self, RequestError> {
        let grant_type = required(params, "grant_type")?;
        let grant = match GrantType::parse(&grant_type) {
            Some(GrantType::Password) => GrantRequest::Password {
                username: required(params, "username")?,
                password: Password::new(required(params, "password")?),
                scope: optional_scope(params)?,
            },
            Some(GrantType::RefreshToken) => GrantRequest::RefreshToken {
                refresh_token: RefreshToken::from_presented(required(params, "refresh_token")?),
                scope: optional_scope(params)?,
            },
            Some(GrantType::ClientCredentials) => GrantRequest::ClientCredentials { scope: optional_scope(params)? },
            Some(GrantType::AuthorizationCode) => GrantRequest::AuthorizationCode {
                code: required(params, "code")?,
                redirect_uri: params.get("redirect_uri").cloned(),
                code_verifier: params.get("code_verifier").cloned(),
            },
            Some(GrantType::DeviceCode) => GrantRequest::DeviceCode { device_code: required(params, "device_code")? },
            None => {
                return Err(RequestError::new(
                    ErrorCode::UnsupportedGrantType,
                    "this grant_type is not supported (use authorization_code, client_credentials, password, refresh_token or urn:ietf:params:oauth:grant-type:device_code)",
                ));
            }
        };
        let client = client_credentials(basic, params)?;
        Ok(TokenRequest { client, grant })
    }
}

#[cfg(test)]
mod tests;
