//! DPoP (RFC 9449) at the HTTP edge: the `DPoP` request header and the `DPoP-Nonce` response
//! header.

use super::ApiError;
use axum::http::{HeaderMap, HeaderName};
use tessera_proto::ErrorCode;

pub(super) const DPOP: HeaderName = HeaderName::from_static("dpop");
pub(super) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The request's proof, if it sent one: RFC 9449 §4.3 check 1, at most one `DPoP` header.
pub(super) fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(DPOP).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match headers.get_all(DPOP).iter().next() {
            None => Ok(None),
            Some(_) => Err(refused("send exactly one DPoP header")),
        };
    };
    value.to_str().map(Some).map_err(|_| refused("the DPoP header is not a JWT"))
}

fn refused(description: &str) -> ApiError {
    ApiError::OAuth { code: ErrorCode::InvalidDpopProof, description: description.into() }
}
