-- Version 7: onlineUserOnly messages that ask for read receipts. They are delivered only to
-- online recipients and belong to no conversation's sequence (history, unread counts, read
-- positions and the conversation list never see them), but their receipt state is kept: the
-- row answers receipt calls (sender, receiver, group, C2C receipt time) and a group message's
-- recipients and readers live in group_receipts like any other's.
CREATE TABLE online_messages (
    msg_id            TEXT PRIMARY KEY,
    -- As messages.conv: 'g <groupID>' or 'c <lowerUserID> <higherUserID>'.
    conv              TEXT NOT NULL,
    sender            TEXT NOT NULL,
    receiver          TEXT,
    group_id          TEXT,
    timestamp         INTEGER NOT NULL,
    random            INTEGER NOT NULL,
    need_receipt      INTEGER NOT NULL,
    excluded_unread   INTEGER NOT NULL,
    elem_type         INTEGER NOT NULL,
    body              TEXT NOT NULL,
    cloud_custom_data TEXT NOT NULL,
    -- C2C message-level receipt: when the receiver sent it (NULL = not yet).
    receipt_at        INTEGER
);
-- Deleting a group deletes its online messages too.
CREATE INDEX online_messages_by_conv ON online_messages (conv);
