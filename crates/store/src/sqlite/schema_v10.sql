-- Version 10: targeted group messages and @-mentions. `targets` lists the members a targeted
-- group message is for (NULL: the whole group); only they and the sender see it. `at_users`
-- lists the user IDs a group message mentions (NULL: none), the V2TIM "everyone" marker
-- among them for @all. Both are user IDs between newlines ('\na\nb\n'), so that a viewer is
-- listed exactly when '\n' || viewer || '\n' occurs in the text.
ALTER TABLE messages ADD COLUMN targets TEXT;
ALTER TABLE messages ADD COLUMN at_users TEXT;
ALTER TABLE online_messages ADD COLUMN targets TEXT;
ALTER TABLE online_messages ADD COLUMN at_users TEXT;
