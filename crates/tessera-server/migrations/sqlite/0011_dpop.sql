-- DPoP (RFC 9449). The proofs seen lately: a proof's `jti` (hashed with its key's thumbprint)
-- is remembered until its `iat` window has passed, so that inserting it again fails on every
-- instance (the replay check); the janitor deletes the expired rows.
CREATE TABLE dpop_proofs (
    proof_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dpop_proofs_expires_at ON dpop_proofs (expires_at);
-- The key a public client's family is bound to (RFC 7638 thumbprint); NULL: not bound.
ALTER TABLE refresh_families ADD COLUMN jkt TEXT;
-- `tessera client … --require-dpop`: 1 = the token endpoint refuses requests without a proof.
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
