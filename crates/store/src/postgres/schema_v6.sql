-- Version 6: recalled messages. A recalled message keeps its row (sequence, receipt state)
-- with who recalled it, when and why; its body and application data are erased.
ALTER TABLE messages ADD COLUMN revoked_at BIGINT;
ALTER TABLE messages ADD COLUMN revoked_by TEXT;
ALTER TABLE messages ADD COLUMN revoke_reason TEXT;
-- The receipt row says it too: receipt batches lock that row, and after waiting for a lock
-- PostgreSQL re-reads the locked row only, not the rows joined to it.
ALTER TABLE group_receipts ADD COLUMN revoked BOOLEAN NOT NULL DEFAULT FALSE;
