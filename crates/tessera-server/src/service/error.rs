//! The service's errors: the client's mistake (an RFC error code and a description safe to
//! show) apart from ours (logged once, answered with an opaque 500).

use crate::keys::KeyError;
use crate::random::RandomError;
use crate::store::StoreError;
use tessera_core::code::CodeRejection;
use tessera_core::{ClientAuthMethod, RefreshRejection};
use tessera_proto::ErrorCode;

/// Something went wrong that is not the caller's fault. Logged once; answered with an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("password hashing task failed")]
    PasswordTask,
}

/// The outcome of a request that failed: either the client's mistake or ours.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{code}: {description}")]
    OAuth { code: ErrorCode, description: String },
    /// RFC 6749 §2.3: the client's credentials, presented by `method`, do not check out.
    /// One message for every cause, so that client ids cannot be probed.
    #[error("invalid_client: client authentication failed")]
    ClientAuthentication { method: ClientAuthMethod },
    /// Too many sign-in attempts for this username (RFC 6585 §4: `429`, `Retry-After`).
    #[error("invalid_grant: too many sign-in attempts")]
    Throttled { retry_after: std::time::Duration },
    /// Too many password checks wait on this instance: nothing was checked (`503`).
    #[error("temporarily_unavailable: too many password checks are waiting")]
    PasswordChecksBusy,
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl ServiceError {
    pub fn oauth(code: ErrorCode, description: impl Into<String>) -> Self {
        ServiceError::OAuth { code, description: description.into() }
    }

    /// The RFC 6749 §5.2 code this error is answered with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ServiceError::OAuth { code, .. } => *code,
            ServiceError::ClientAuthentication { .. } => ErrorCode::InvalidClient,
            ServiceError::Throttled { .. } => ErrorCode::InvalidGrant,
            ServiceError::PasswordChecksBusy => ErrorCode::TemporarilyUnavailable,
            ServiceError::Internal(_) => ErrorCode::ServerError,
        }
    }
}

impl From<RefreshRejection> for ServiceError {
    fn from(rejection: RefreshRejection) -> Self {
        ServiceError::oauth(rejection.error_code(), rejection.description())
    }
}

impl From<CodeRejection> for ServiceError {
    fn from(rejection: CodeRejection) -> Self {
        ServiceError::oauth(rejection.error_code(), rejection.description())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<KeyError> for ServiceError {
    fn from(error: KeyError) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<RandomError> for ServiceError {
    fn from(error: RandomError) -> Self {
        ServiceError::Internal(error.into())
    }
}
