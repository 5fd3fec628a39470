-- `tessera keys revoke KID`: a revoked key is removed from JWKS and from verification at once
-- (a retired one keeps verifying until the tokens it signed have expired). A revoked key is
-- also retired, so "active" stays "retired_at IS NULL".
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
