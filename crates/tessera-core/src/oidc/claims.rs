//! Which claims a scope releases (OpenID Connect Core §5.4) and the `at_hash` that binds an id
//! token to its access token (Core §3.1.3.6, §3.3.2.11).

use crate::scope::Scope;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_proto::UserInfoClaims;

/// What the claims are made of: a user as stored.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub username: &'a str,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub updated_at: Timestamp,
}

/// Core §5.4: `profile` → `preferred_username`, `name`, `updated_at` (seconds); `email` →
/// `email`, `email_verified`. A claim the user has no value for is left out, not sent empty.
/// `sub` is the caller's (the userinfo response sets it; the id token has its own).
pub fn claims_for_scope(scope: &Scope, profile: &Profile<'_>) -> UserInfoClaims {
    let has = |name: &str| scope.iter().any(|granted| granted == name);
    let mut claims = UserInfoClaims::default();
    if has("profile") {
        claims.preferred_username = Some(profile.username.to_owned());
        claims.name = profile.name.map(str::to_owned);
        claims.updated_at = Some(profile.updated_at.secs());
    }
    if has("email")
        && let Some(email) = profile.email
    {
        claims.email = Some(email.to_owned());
        claims.email_verified = Some(profile.email_verified);
    }
    claims
}

/// Whether a scope makes a grant an OpenID Connect one (Core §3.1.2.1).
pub fn is_openid(scope: &Scope) -> bool {
    scope.iter().any(|granted| granted == "openid")
}

/// The JWS algorithm of the id token, which chooses the `at_hash` digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    Es256,
    /// Ed25519, whose hash is SHA-512 (the choice OpenID Connect Core errata set 2 makes).
    EdDsa,
}

/// Core §3.1.3.6: the left-most half of the hash of the access token's ASCII octets,
/// base64url-encoded without padding.
pub fn at_hash(access_token: &str, algorithm: SigningAlgorithm) -> String {
    let digest = match algorithm {
        SigningAlgorithm::Es256 => ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes()),
        SigningAlgorithm::EdDsa => ring::digest::digest(&ring::digest::SHA512, access_token.as_bytes()),
    };
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}
