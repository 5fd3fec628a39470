-- OpenID Connect (issue 11): the user's profile claims, where a client may send the browser
-- after logout, remembered consent, and how each code and family began (for id tokens).

ALTER TABLE users ADD COLUMN name TEXT;
ALTER TABLE users ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN updated_at BIGINT;            -- NULL: never changed since created_at
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;

ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';  -- JSON array

-- A user's approval of a client for a scope: later requests within it skip the consent page.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- How the user behind an authorization code signed in; read when the code is redeemed.
CREATE TABLE authorization_code_sign_ins (
    code_hash TEXT PRIMARY KEY REFERENCES authorization_codes (code_hash) ON DELETE CASCADE,
    nonce     TEXT,            -- echoed in the id token (OpenID Connect Core §3.1.2.1)
    auth_time BIGINT NOT NULL,
    sid       TEXT NOT NULL
);

-- How the user behind a family signed in, so that a refresh's id token keeps its auth_time;
-- `consented` = 1 when the family began at the consent page (revoking consent revokes it).
CREATE TABLE family_sign_ins (
    family_id TEXT PRIMARY KEY REFERENCES refresh_families (family_id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    sid       TEXT,
    consented BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX family_sign_ins_user_client ON family_sign_ins (user_id, client_id);
