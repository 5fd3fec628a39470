-- Tessera schema, SQLite flavour. Timestamps are BIGINT milliseconds since the Unix epoch;
-- flags are BIGINT 0/1; secrets appear only as SHA-256 hex or as AEAD ciphertext.

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   TEXT,            -- SHA-256 hex of the secret; NULL for public clients
    redirect_uris TEXT NOT NULL,   -- JSON array of strings
    grant_types   TEXT NOT NULL,   -- space-separated
    scope         TEXT NOT NULL,   -- space-separated scopes the client may ask for
    created_at    BIGINT NOT NULL
);

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,   -- Argon2id PHC string
    is_admin      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE refresh_families (
    family_id      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);
CREATE INDEX refresh_families_revoked_at ON refresh_families (revoked_at);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,  -- SHA-256 hex of the token
    family_id       TEXT NOT NULL REFERENCES refresh_families (family_id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    used_at         BIGINT,            -- set once, by compare-and-set, when rotated
    successor_hash  TEXT               -- SHA-256 hex of HMAC(key, token)
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_idle_expires_at ON refresh_tokens (idle_expires_at);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BLOB NOT NULL,      -- nonce || ChaCha20-Poly1305(PKCS#8), key from the master key
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
