-- The device authorization grant (RFC 8628, issue 12). Both codes are stored only as hashes:
-- the device code as SHA-256 (256 random bits), the user code keyed (HMAC under a key derived
-- from the master key), since its 20^8 values could be hashed through in seconds.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,      -- grows by 5 with each slow_down
    last_poll_at     BIGINT,
    status           TEXT NOT NULL DEFAULT 'pending',   -- pending | approved | denied
    user_id          TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time        BIGINT,               -- when the approving user signed in
    sid              TEXT,                 -- the browser session they approved from
    redeemed_at      BIGINT,               -- set once, by compare-and-set, with the family
    family_id        TEXT
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

-- Wrong user codes typed at the verification page, per signed-in user ("user:ID") and per
-- address ("addr:IP"), in a sliding window like login_failures.
CREATE TABLE device_code_failures (
    subject           TEXT PRIMARY KEY,
    window_started_at BIGINT NOT NULL,
    failures          BIGINT NOT NULL
);
