//! DPoP at the resources (RFC 9449 §7): `Authorization: DPoP` with a proof bound to the token.
