-- Failed password checks per username, in a fixed window, shared by every instance: after
-- too many, the username is refused until the window ends (brute-force throttling).
CREATE TABLE login_failures (
    username          TEXT PRIMARY KEY,
    window_started_at BIGINT NOT NULL,
    failures          BIGINT NOT NULL
);
CREATE INDEX login_failures_window_started_at ON login_failures (window_started_at);
