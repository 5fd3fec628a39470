-- The authorization-code grant (RFC 6749 §4.1) and the browser sessions of its login page.
CREATE TABLE authorization_codes (
    code_hash          TEXT PRIMARY KEY,    -- SHA-256 hex of the code
    client_id          TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id            TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    redirect_uri       TEXT NOT NULL,
    redirect_uri_given BIGINT NOT NULL,     -- 1: the token request must repeat redirect_uri
    scope              TEXT NOT NULL,
    code_challenge     TEXT,                -- PKCE S256 challenge
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    used_at            BIGINT,              -- set once, by compare-and-set
    family_id          TEXT                 -- the family the code started: revoked if the code is replayed
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

CREATE TABLE browser_sessions (
    session_hash TEXT PRIMARY KEY,          -- SHA-256 hex of the cookie value
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX browser_sessions_expires_at ON browser_sessions (expires_at);
