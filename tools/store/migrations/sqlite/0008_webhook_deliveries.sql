-- Ids of signed decision callbacks already received: a replayed delivery is refused.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY NOT NULL,
    received_at TEXT NOT NULL
);
