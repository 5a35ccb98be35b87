-- Approval page sessions: the browser holds a random id, the store only its SHA-256, with the
-- approver it stands for and when it ends. Sign-out deletes the row.
CREATE TABLE approver_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    subject    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    models     TEXT,
    created_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL
);
CREATE INDEX approver_sessions_expiry ON approver_sessions (expires_us);
