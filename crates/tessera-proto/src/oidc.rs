//! OpenID Connect wire types: id-token claims (Core §2), userinfo claims (Core §5.1, §5.3.2)
//! and the discovery document (Discovery 1.0 §3, RP-Initiated Logout 1.0 §3).

use crate::ServerMetadata;
use serde::{Deserialize, Serialize};

/// OpenID Connect Core §2 and §3.1.3.6: the claims of an id token. The profile and email
/// claims (§5.1) ride along when the scope allows them, as in [`UserInfoClaims`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The client id (a single audience, so a string: §2 allows either).
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub azp: String,
    /// OpenID Connect Front-Channel Logout §3: the browser session the user signed in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// RFC 8176 §2: how the user authenticated (`pwd`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(flatten)]
    pub profile: UserInfoClaims,
}

/// OpenID Connect Core §5.1 standard claims, as many as the scope allows (§5.4): `sub`
/// always (at userinfo), `profile` → `preferred_username`, `name`, `updated_at`, `email` →
/// `email`, `email_verified`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoClaims {
    /// Absent inside an id token (which has its own `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seconds since the epoch (§5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// OpenID Connect Discovery 1.0 §3: the RFC 8414 document plus the OpenID provider fields.
/// The fields both specifications share are the RFC 8414 ones, so the two documents agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdMetadata {
    #[serde(flatten)]
    pub oauth: ServerMetadata,
    pub userinfo_endpoint: String,
    /// RP-Initiated Logout 1.0 §3.
    pub end_session_endpoint: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    pub prompt_values_supported: Vec<String>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
}
