-- Version 8: private read receipts (a Tidings extension). A user who keeps receipts private
-- still clears their own unread state, but nobody else sees it: their message-level receipts
-- are checked and not recorded (no reader bit, no C2C receipt time), and their C2C
-- conversation-level read position moves without the position the peer is shown.
ALTER TABLE users ADD COLUMN private_receipts BOOLEAN NOT NULL DEFAULT FALSE;
-- The owner's read position as the peer sees it (isPeerRead, onRecvC2CReadReceipt): equal to
-- read_seq/read_time, except that it stays behind while the owner reads privately.
ALTER TABLE c2c_conversations ADD COLUMN shown_read_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE c2c_conversations ADD COLUMN shown_read_time BIGINT NOT NULL DEFAULT 0;
UPDATE c2c_conversations SET shown_read_seq = read_seq, shown_read_time = read_time;
