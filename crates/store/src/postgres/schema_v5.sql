-- Version 5: the conversation list's order. Every conversation has an activity number from one
-- sequence, taken when a group is created and by every stored message (both sides of a C2C
-- conversation take the same number), so a user's list is read newest first from an index, and
-- a page continues below the last number it returned however conversations move meanwhile.
-- Several nodes take numbers at once; the sequence keeps them unique.
CREATE SEQUENCE conversation_activity AS BIGINT MINVALUE 1;
ALTER TABLE groups ADD COLUMN activity BIGINT NOT NULL DEFAULT 0;
ALTER TABLE c2c_conversations ADD COLUMN activity BIGINT NOT NULL DEFAULT 0;

-- Existing conversations are numbered in the order of their last activity (last message, else
-- the group's creation or the C2C read time).
CREATE TEMP TABLE activity_backfill ON COMMIT DROP AS
SELECT kind, a, b, ROW_NUMBER() OVER (ORDER BY t, kind, a, b) AS n FROM (
    SELECT 'g'::TEXT COLLATE "C" AS kind, group_id AS a, ''::TEXT COLLATE "C" AS b,
           COALESCE((SELECT timestamp FROM messages WHERE conv = 'g ' || g.group_id
                     ORDER BY seq DESC LIMIT 1), created_at) AS t
    FROM groups g
    UNION ALL
    SELECT 'c', owner, peer, CASE WHEN last_seq > 0 THEN last_time ELSE read_time END
    FROM c2c_conversations
) AS everything;
UPDATE groups g SET activity = f.n FROM activity_backfill f
    WHERE f.kind = 'g' AND f.a = g.group_id;
UPDATE c2c_conversations c SET activity = f.n FROM activity_backfill f
    WHERE f.kind = 'c' AND f.a = c.owner AND f.b = c.peer;
SELECT setval('conversation_activity', (SELECT COUNT(*) + 1 FROM activity_backfill), false);

CREATE INDEX c2c_conversations_by_activity ON c2c_conversations (owner, activity);
-- The groups of a member in activity order come from members_by_user and this.
CREATE INDEX groups_by_activity ON groups (activity);
-- Counts the groups a user owns (the per-user quota on groups created).
CREATE INDEX groups_by_owner ON groups (owner);
