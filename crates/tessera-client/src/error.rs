//! The errors of the token source, the store and the HTTP helper.

use std::fmt;
use std::path::PathBuf;

/// An OAuth 2.0 error response from the authorization server (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code, e.g. `invalid_grant` or `invalid_client`.
    pub error: String,
    /// The optional human-readable `error_description`.
    pub error_description: Option<String>,
    /// The optional `error_uri`.
    pub error_uri: Option<String>,
}

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &str {
        &self.error
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_description {
            Some(description) => write!(f, "{} ({description})", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Why a call to the token source or the HTTP helper failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The store holds no credentials: nobody has logged in with this profile yet.
    #[error("not logged in: no credentials are stored for this profile")]
    NotLoggedIn,

    /// The stored refresh token is dead (expired, revoked, or its family was revoked after a
    /// reuse) and no other process has stored a newer one: the user must log in again.
    #[error("the stored login is no longer valid{}; log in again", cause_suffix(.cause))]
    LoginRequired {
        /// The server's answer, when there was one (usually `invalid_grant`); `None` when no
        /// refresh token was stored at all.
        cause: Option<OAuthError>,
    },

    /// The authorization server answered with an OAuth error other than a dead refresh token.
    #[error("the authorization server refused the request: {0}")]
    OAuth(OAuthError),

    /// The request never got an HTTP answer (DNS, connection, TLS, timeout).
    #[error("HTTP request to {url} failed")]
    Transport {
        /// The endpoint that was called.
        url: String,
        /// What went wrong underneath.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The server answered, but not with something this client understands.
    #[error("unexpected answer from {url}: {message}")]
    Protocol {
        /// The endpoint that was called.
        url: String,
        /// What was wrong with the answer (never the answer itself, which may hold secrets).
        message: String,
    },

    /// The browser came back from the authorization endpoint with `error=access_denied`
    /// (RFC 6749 §4.1.2.1): the user declined the consent page, or the server refused.
    #[error("the authorization was denied: {0}")]
    AccessDenied(OAuthError),

    /// The browser came back from the authorization endpoint with an error other than
    /// `access_denied` (RFC 6749 §4.1.2.1), e.g. `invalid_scope`.
    #[error("the authorization server refused the authorization request: {0}")]
    Authorization(OAuthError),

    /// A redirect with a `state` that is not this login's (RFC 6749 §10.12): it did not come from
    /// this login's authorization request, so its code is not used. The loopback listener answers
    /// such a request 400 and keeps waiting, so a browser login does not end with this error.
    #[error("the browser's redirect does not belong to this login (wrong state); start the login again")]
    StateMismatch,

    /// No redirect reached the loopback listener in time.
    #[error("no answer from the browser within {} s; start the login again", .0.as_secs())]
    LoginTimedOut(std::time::Duration),

    /// The loopback listener for the browser's redirect (RFC 8252 §7.3) failed.
    #[error("cannot receive the browser's redirect on the loopback interface")]
    Loopback(#[source] std::io::Error),

    /// A setting is unusable, e.g. an endpoint that is not a URL.
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// Reading or writing the credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The server's id token failed validation (OpenID Connect Core §3.1.3.7, §12.2); the
    /// tokens of that response were not stored.
    #[error("the server's id token is not valid: {0}; nothing was stored")]
    IdToken(crate::id_token::IdTokenError),

    /// A DPoP proof (RFC 9449) could not be made with the profile's key.
    #[error("DPoP: {0}")]
    Dpop(#[from] crate::dpop::DpopKeyError),

    /// The profile holds no id token: the login did not ask for (or was not granted) the
    /// `openid` scope.
    #[error("this login has no id token: log in again with the openid scope to get one")]
    NoIdToken,
}

fn cause_suffix(cause: &Option<OAuthError>) -> String {
    match cause {
        Some(cause) => format!(" (server said: {cause})"),
        None => " (no refresh token is stored)".to_owned(),
    }
}

impl ClientError {
    /// The server's OAuth error, if this error carries one.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match self {
            ClientError::OAuth(error) | ClientError::AccessDenied(error) | ClientError::Authorization(error) => {
                Some(error)
            }
            ClientError::LoginRequired { cause } => cause.as_ref(),
            _ => None,
        }
    }

    /// True when the only way forward is a new login (no usable credentials are stored).
    pub fn is_login_required(&self) -> bool {
        matches!(self, ClientError::LoginRequired { .. } | ClientError::NotLoggedIn)
    }
}

/// Why reading or writing the credential store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Neither `XDG_CONFIG_HOME` nor `HOME` says where configuration lives.
    #[error("cannot find the configuration directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,

    /// A profile name that would not be a safe file name.
    #[error(
        "invalid profile name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidProfileName(String),

    /// A file-system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. "write".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The profile file is not valid JSON of the expected shape.
    #[error("the credential file {} is damaged ({message}); log in again to replace it", path.display())]
    Corrupt {
        /// The profile file.
        path: PathBuf,
        /// Where parsing failed (never the content, which holds secrets).
        message: String,
    },

    /// Any other failure, e.g. from a custom [`CredentialStore`](crate::CredentialStore).
    #[error("{0}")]
    Other(String),
}
