-- The audit log (the console's "Audit log"): every admin action, family revocation, reuse
-- detection and key change, with who (NULL: the server itself or the command line), when and
-- from which address. Newest first by `id`; the janitor deletes rows past the retention.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id TEXT,
    actor TEXT,
    address TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, id);
