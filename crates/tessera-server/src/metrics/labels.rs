//! Label values of the `/metrics` series: fixed enums (grant types, RFC error codes, decision
//! names, endpoints), each spelt once here, never taken from user input.

use crate::service::InvalidToken;
use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use std::fmt::Write;
use tessera_core::{GrantType, RevocationReason};
use tessera_proto::ErrorCode;

/// A label value from a fixed set of names.
pub trait LabelName {
    fn label_name(&self) -> &'static str;
}

/// Wraps a [`LabelName`] so prometheus-client can encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label<T>(pub T);

impl<T: LabelName> EncodeLabelValue for Label<T> {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.0.label_name())
    }
}

impl LabelName for GrantType {
    fn label_name(&self) -> &'static str {
        self.as_str()
    }
}

impl LabelName for RevocationReason {
    fn label_name(&self) -> &'static str {
        self.as_str()
    }
}

/// How a token request ended: `ok`, or the RFC 6749 §5.2 error code it was answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenOutcome {
    Ok,
    Error(ErrorCode),
}

impl LabelName for TokenOutcome {
    fn label_name(&self) -> &'static str {
        match self {
            TokenOutcome::Ok => "ok",
            TokenOutcome::Error(code) => code.as_str(),
        }
    }
}

/// What a presented refresh token led to (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshOutcome {
    Rotated,
    /// Grace-window replay.
    Replayed,
    Rejected,
    ReuseDetected,
}

impl LabelName for RefreshOutcome {
    fn label_name(&self) -> &'static str {
        match self {
            RefreshOutcome::Rotated => "rotated",
            RefreshOutcome::Replayed => "replayed",
            RefreshOutcome::Rejected => "rejected",
            RefreshOutcome::ReuseDetected => "reuse_detected",
        }
    }
}

/// How a bearer check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BearerResult {
    Ok,
    Invalid(InvalidToken),
    /// Our failure (the database, say), not the token's.
    Error,
}

impl LabelName for BearerResult {
    fn label_name(&self) -> &'static str {
        match self {
            BearerResult::Ok => "ok",
            BearerResult::Invalid(reason) => reason.as_str(),
            BearerResult::Error => "error",
        }
    }
}

/// The endpoint a request was routed to, by path; `Other` is anything else (a 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    Revoke,
    Introspect,
    Authorize,
    Jwks,
    Metadata,
    UsersMe,
    Healthz,
    Metrics,
    /// OpenID Connect Core §5.3.
    Userinfo,
    /// OpenID Connect RP-Initiated Logout 1.0.
    Logout,
    /// RFC 8628 §3.1.
    DeviceAuthorization,
    /// RFC 8628 §3.3, the verification page.
    DeviceVerification,
    Other,
}

impl Endpoint {
    /// In the order of their series in `tessera_http_request_duration_seconds`.
    pub const ALL: [Endpoint; 14] = [
        Endpoint::Token,
        Endpoint::Revoke,
        Endpoint::Introspect,
        Endpoint::Authorize,
        Endpoint::Jwks,
        Endpoint::Metadata,
        Endpoint::UsersMe,
        Endpoint::Healthz,
        Endpoint::Metrics,
        Endpoint::Userinfo,
        Endpoint::Logout,
        Endpoint::DeviceAuthorization,
        Endpoint::DeviceVerification,
        Endpoint::Other,
    ];

    /// The endpoint serving `path` (the router's routes; see `http::router`).
    pub fn of_path(path: &str) -> Endpoint {
        match path {
            "/oauth/token" => Endpoint::Token,
            "/oauth/revoke" => Endpoint::Revoke,
            "/oauth/introspect" => Endpoint::Introspect,
            "/oauth/authorize" => Endpoint::Authorize,
            "/oauth/jwks" => Endpoint::Jwks,
            "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => Endpoint::Metadata,
            "/api/1.0/users/me" => Endpoint::UsersMe,
            "/healthz" => Endpoint::Healthz,
            "/metrics" => Endpoint::Metrics,
            "/oauth/userinfo" => Endpoint::Userinfo,
            "/oauth/logout" => Endpoint::Logout,
            "/oauth/device_authorization" => Endpoint::DeviceAuthorization,
            "/oauth/device" => Endpoint::DeviceVerification,
            _ => Endpoint::Other,
        }
    }
}

impl LabelName for Endpoint {
    fn label_name(&self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Revoke => "revoke",
            Endpoint::Introspect => "introspect",
            Endpoint::Authorize => "authorize",
            Endpoint::Jwks => "jwks",
            Endpoint::Metadata => "metadata",
            Endpoint::UsersMe => "users_me",
            Endpoint::Healthz => "healthz",
            Endpoint::Metrics => "metrics",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Logout => "logout",
            Endpoint::DeviceAuthorization => "device_authorization",
            Endpoint::DeviceVerification => "device_verification",
            Endpoint::Other => "other",
        }
    }
}
