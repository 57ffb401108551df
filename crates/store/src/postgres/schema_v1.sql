-- Tidings PostgreSQL schema, version 1. IDs compare byte-wise (COLLATE "C"), as on SQLite, so
-- paging by ID gives the same order on both engines whatever the database's locale.
CREATE TABLE users (
    user_id    TEXT COLLATE "C" PRIMARY KEY,
    nick       TEXT NOT NULL DEFAULT '',
    face_url   TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- The group row is the lock of everything that changes its membership or its sequence:
-- writers take it (UPDATE or SELECT … FOR UPDATE) before reading the member bitmap or the
-- last sequence, so several nodes writing one group are serialized on it.
CREATE TABLE groups (
    group_id      TEXT COLLATE "C" PRIMARY KEY,
    group_type    TEXT NOT NULL,
    name          TEXT NOT NULL,
    owner         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seq      BIGINT NOT NULL DEFAULT 0,
    next_ordinal  BIGINT NOT NULL DEFAULT 0,
    member_count  BIGINT NOT NULL DEFAULT 0,
    member_bitmap BYTEA NOT NULL
);

CREATE TABLE members (
    group_id  TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C" NOT NULL,
    ordinal   BIGINT NOT NULL,
    role      BIGINT NOT NULL,
    joined_at BIGINT NOT NULL,
    read_seq  BIGINT NOT NULL DEFAULT 0,
    active    BOOLEAN NOT NULL,
    PRIMARY KEY (group_id, user_id),
    UNIQUE (group_id, ordinal)
);
CREATE INDEX members_by_user ON members (user_id, active);

-- The last sequence of each C2C conversation; its row is the lock that makes sequences
-- unique and gapless across writers.
CREATE TABLE conversation_seqs (
    conv     TEXT COLLATE "C" PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE messages (
    msg_id            TEXT COLLATE "C" PRIMARY KEY,
    conv              TEXT COLLATE "C" NOT NULL,
    seq               BIGINT NOT NULL,
    sender            TEXT COLLATE "C" NOT NULL,
    receiver          TEXT,
    group_id          TEXT,
    timestamp         BIGINT NOT NULL,
    random            BIGINT NOT NULL,
    need_receipt      BOOLEAN NOT NULL,
    excluded_unread   BOOLEAN NOT NULL,
    elem_type         BIGINT NOT NULL,
    body              TEXT NOT NULL,
    cloud_custom_data TEXT NOT NULL,
    receipt_at        BIGINT,
    UNIQUE (conv, seq)
);
CREATE INDEX messages_unread ON messages (conv, seq, sender, excluded_unread);

CREATE TABLE c2c_conversations (
    owner     TEXT COLLATE "C" NOT NULL,
    peer      TEXT COLLATE "C" NOT NULL,
    last_seq  BIGINT NOT NULL DEFAULT 0,
    last_time BIGINT NOT NULL DEFAULT 0,
    read_seq  BIGINT NOT NULL DEFAULT 0,
    read_time BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, peer)
);

-- Read state of one group message that asked for receipts: two roaring bitmaps of member
-- ordinals, whatever the group size. A receipt batch locks the rows it changes.
CREATE TABLE group_receipts (
    msg_id     TEXT COLLATE "C" PRIMARY KEY,
    group_id   TEXT COLLATE "C" NOT NULL,
    recipients BYTEA NOT NULL,
    readers    BYTEA NOT NULL
);
CREATE INDEX group_receipts_by_group ON group_receipts (group_id);
