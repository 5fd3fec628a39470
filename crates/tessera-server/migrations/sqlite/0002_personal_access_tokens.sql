-- Personal access tokens (`tsp_…`): made by the operator for a user, revocable, stored hashed.
CREATE TABLE personal_access_tokens (
    token_hash TEXT PRIMARY KEY,           -- SHA-256 hex of the token
    pat_id     TEXT NOT NULL UNIQUE,       -- public handle for listing and revoking
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,                     -- NULL: until revoked
    revoked_at BIGINT
);
CREATE INDEX personal_access_tokens_user_id ON personal_access_tokens (user_id);
