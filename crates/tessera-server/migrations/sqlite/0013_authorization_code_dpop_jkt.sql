-- DPoP (RFC 9449 §10): the key an authorization request bound its code to (`dpop_jkt`, an
-- RFC 7638 thumbprint); the token request redeeming the code must prove it. NULL: not bound.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
