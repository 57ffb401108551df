-- Version 6: recalled messages. A recalled message keeps its row (sequence, receipt state)
-- with who recalled it, when and why; its body and application data are erased.
ALTER TABLE messages ADD COLUMN revoked_at INTEGER;
ALTER TABLE messages ADD COLUMN revoked_by TEXT;
ALTER TABLE messages ADD COLUMN revoke_reason TEXT;
