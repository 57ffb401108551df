-- Version 5: the conversation list's order. Every conversation has an activity number from one
-- counter, taken when a group is created and by every stored message (both sides of a C2C
-- conversation take the same number), so a user's list is read newest first from an index, and
-- a page continues below the last number it returned however conversations move meanwhile.
CREATE TABLE conversation_activity (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
ALTER TABLE groups ADD COLUMN activity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE c2c_conversations ADD COLUMN activity INTEGER NOT NULL DEFAULT 0;

-- Existing conversations are numbered in the order of their last activity (last message, else
-- the group's creation or the C2C read time).
CREATE TEMP TABLE activity_backfill (
    kind TEXT NOT NULL,
    a    TEXT NOT NULL,
    b    TEXT NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (kind, a, b)
);
INSERT INTO activity_backfill (kind, a, b, n)
SELECT kind, a, b, ROW_NUMBER() OVER (ORDER BY t, kind, a, b) FROM (
    SELECT 'g' AS kind, group_id AS a, '' AS b,
           COALESCE((SELECT timestamp FROM messages WHERE conv = 'g ' || group_id
                     ORDER BY seq DESC LIMIT 1), created_at) AS t
    FROM groups
    UNION ALL
    SELECT 'c', owner, peer, CASE WHEN last_seq > 0 THEN last_time ELSE read_time END
    FROM c2c_conversations
);
UPDATE groups SET activity =
    (SELECT n FROM activity_backfill WHERE kind = 'g' AND a = group_id AND b = '');
UPDATE c2c_conversations SET activity =
    (SELECT n FROM activity_backfill WHERE kind = 'c' AND a = owner AND b = peer);
INSERT INTO conversation_activity (id, last) SELECT 1, COUNT(*) FROM activity_backfill;
DROP TABLE activity_backfill;

CREATE INDEX c2c_conversations_by_activity ON c2c_conversations (owner, activity);
-- The groups of a member in activity order come from members_by_user and this.
CREATE INDEX groups_by_activity ON groups (activity);
-- Counts the groups a user owns (the per-user quota on groups created).
CREATE INDEX groups_by_owner ON groups (owner);
