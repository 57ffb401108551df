-- Tidings embedded schema, version 1 (the first release's, which set no user_version: its
-- statements are IF NOT EXISTS so that they find such a database complete).
CREATE TABLE IF NOT EXISTS users (
    user_id    TEXT PRIMARY KEY,
    nick       TEXT NOT NULL DEFAULT '',
    face_url   TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS groups (
    group_id      TEXT PRIMARY KEY,
    group_type    TEXT NOT NULL,
    name          TEXT NOT NULL,
    owner         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    next_ordinal  INTEGER NOT NULL DEFAULT 0,
    member_count  INTEGER NOT NULL DEFAULT 0,
    -- Roaring bitmap of the ordinals of current members: snapshotted into each message that asks
    -- for receipts, so a send never scans the member table.
    member_bitmap BLOB NOT NULL
);

-- One row per (group, user) ever joined. The ordinal is assigned at first join and kept forever,
-- so read-state bitmaps of old messages keep naming the right user after leaves and re-joins.
CREATE TABLE IF NOT EXISTS members (
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    ordinal   INTEGER NOT NULL,
    role      INTEGER NOT NULL,
    joined_at INTEGER NOT NULL,
    read_seq  INTEGER NOT NULL DEFAULT 0,
    active    INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id),
    UNIQUE (group_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id, active);

CREATE TABLE IF NOT EXISTS messages (
    msg_id            TEXT PRIMARY KEY,
    -- 'g <groupID>' or 'c <lowerUserID> <higherUserID>'; IDs contain no spaces.
    conv              TEXT NOT NULL,
    seq               INTEGER NOT NULL,
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
    receipt_at        INTEGER,
    UNIQUE (conv, seq)
);
-- Covers unread counts (messages after a read position, not the viewer's, not excluded) without
-- reading message rows.
CREATE INDEX IF NOT EXISTS messages_unread ON messages (conv, seq, sender, excluded_unread);

-- Per-user C2C conversation state: last message and the owner's read position.
CREATE TABLE IF NOT EXISTS c2c_conversations (
    owner     TEXT NOT NULL,
    peer      TEXT NOT NULL,
    last_seq  INTEGER NOT NULL DEFAULT 0,
    last_time INTEGER NOT NULL DEFAULT 0,
    read_seq  INTEGER NOT NULL DEFAULT 0,
    read_time INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, peer)
) WITHOUT ROWID;

-- Read state of one group message that asked for receipts: who it was sent to and who read it,
-- both as roaring bitmaps of member ordinals. Two blobs per message, whatever the group size.
CREATE TABLE IF NOT EXISTS group_receipts (
    msg_id     TEXT PRIMARY KEY,
    recipients BLOB NOT NULL,
    readers    BLOB NOT NULL
) WITHOUT ROWID;

-- Readers added to a group message since its readers blob was last written: one small roaring
-- bitmap per write batch, so a batch does not rewrite whole blobs. The writer folds them into
-- `group_receipts.readers` (at most 15 per message, never more bytes than the blob).
CREATE TABLE IF NOT EXISTS group_receipt_deltas (
    msg_id  TEXT NOT NULL,
    n       INTEGER NOT NULL,
    readers BLOB NOT NULL,
    PRIMARY KEY (msg_id, n)
) WITHOUT ROWID;
