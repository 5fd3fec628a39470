//! Tessera's domain, sans I/O: the rules of OAuth 2.0 as Tessera applies them.
//!
//! Nothing here reads the clock, the network, the disk or a random generator: time,
//! random bytes and stored state come in as parameters, decisions come out as values.
//! That is what lets the refresh-token lifecycle be tested with a fixed clock.

pub mod authorize;
pub mod client_access;
pub mod client_address;
pub mod code;
pub mod device;
pub mod dpop;
pub mod lifecycle;
pub mod oidc;
pub mod origin;
pub mod request;
pub mod scope;
pub mod secret;
pub mod time;
pub mod verification;

pub use client_access::{IntrospectedToken, IntrospectionAccess};
pub use client_address::{ForwardingHeaders, TrustedProxies, address_key, client_address};
#[cfg(test)]
mod properties;

pub use code::{CodeDecision, CodeRedemption, CodeRejection, IssuedCode};
pub use lifecycle::{
    Family, RefreshDecision, RefreshPolicy, RefreshRejection, RevocationReason, StoredRefreshToken, TokenState,
};
pub use origin::{Origin, OriginError};
pub use request::{
    ClientAuthMethod, ClientCredentials, GrantRequest, GrantType, RequestError, TokenRequest, TokenTypeHint,
};
pub use scope::{Scope, ScopeError};
pub use secret::{
    ClientSecret, MasterKey, MasterKeyError, Password, PersonalAccessToken, RefreshToken, SuccessorKey, TokenHash,
};
pub use tessera_proto::{ClientId, FamilyId, Jti, UserId};
pub use time::{Timestamp, parse_duration};
pub use verification::{IAT_SKEW, KeyState, TokenTimeRejection, check_token_times, retired_key_retention};
