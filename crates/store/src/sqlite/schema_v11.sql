-- Version 11: profiles. A user's self-signature, gender (V2TIM's numbers: 0 unknown, 1 male,
-- 2 female) and custom fields (a JSON object of name to value, names without Tencent's
-- Tag_Profile_Custom_ prefix); a member's name card in a group; and the sender's nickname and
-- picture as they were when a message was sent, kept with the message so that history shows
-- what was sent (also for onlineUserOnly messages kept for their receipts).
ALTER TABLE users ADD COLUMN self_signature TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN gender INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN custom_info TEXT NOT NULL DEFAULT '{}';
ALTER TABLE members ADD COLUMN name_card TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN sender_nick TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN sender_face_url TEXT NOT NULL DEFAULT '';
ALTER TABLE online_messages ADD COLUMN sender_nick TEXT NOT NULL DEFAULT '';
ALTER TABLE online_messages ADD COLUMN sender_face_url TEXT NOT NULL DEFAULT '';
