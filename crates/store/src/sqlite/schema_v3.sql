-- Version 3: settings changed at runtime (read receipts, webhook), kept across restarts.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
