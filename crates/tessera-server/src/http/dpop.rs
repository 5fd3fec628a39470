//! DPoP (RFC 9449) at the HTTP edge: the `DPoP` request header and the `DPoP-Nonce` response
//! header.

use super::{ApiError, BearerRefusal};
use crate::service::dpop_access::{DpopRefusal, PresentedToken, Scheme};
use axum::http::{HeaderMap, HeaderName, header};
use tessera_core::dpop::ProofError;
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

/// The access token of a request to a resource at `method` `path`: `Authorization: Bearer …`
/// (RFC 6750 §2.1) or `Authorization: DPoP …` with its `DPoP` proof (RFC 9449 §7.1).
pub(super) fn presented_token<'a>(
    headers: &'a HeaderMap,
    method: &'a str,
    path: &'a str,
) -> Result<Option<PresentedToken<'a>>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) else {
        return Ok(None);
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else { return Ok(None) };
    let token = token.trim();
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Ok(None);
    };
    if token.is_empty() {
        return Err(ApiError::Bearer(BearerRefusal::Missing));
    }
    // At a resource a bad DPoP header is answered with a DPoP challenge (401), not a 400.
    let proof = proof_header(headers).map_err(|_| ApiError::Dpop(DpopRefusal::Proof(ProofError::Malformed)))?;
    Ok(Some(PresentedToken { scheme, token, proof, method, path }))
}
