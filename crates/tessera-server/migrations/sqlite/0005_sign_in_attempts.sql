-- Sign-in attempts, counted per username and client address and, with a higher ceiling, per
-- username alone (issue 10): one counter per row, in a fixed window, shared by every instance.
-- `counter` is `<address> <username>` or `* <username>` (an address never contains a space).
-- An attempt is reserved here before its password is checked, by one conditional upsert, so
-- that concurrent guesses cannot all slip under the limit. It replaces `login_failures`,
-- which was counted after the check; its counts are a quarter of an hour old at most and are
-- not carried over.
DROP TABLE login_failures;
CREATE TABLE sign_in_attempts (
    counter           TEXT PRIMARY KEY,
    window_started_at BIGINT NOT NULL,
    attempts          BIGINT NOT NULL
);
CREATE INDEX sign_in_attempts_window_started_at ON sign_in_attempts (window_started_at);
