-- Version 9: online status. Whose status each user subscribed to (V2TIM's
-- subscribeUserStatus: per user, kept across logins until unsubscribed, at most a fixed number
-- per subscriber, the earliest subscribed dropped first), and each user's custom status
-- (setSelfStatus; no row when none: it is cleared when the user goes offline).
CREATE TABLE status_subscriptions (
    subscriber TEXT NOT NULL,
    target     TEXT NOT NULL,
    -- Order of subscription: the caller's clock (nanoseconds) plus the position in its call.
    rank       INTEGER NOT NULL,
    PRIMARY KEY (subscriber, target)
);
-- The subscribers of a user whose status changed.
CREATE INDEX status_subscriptions_by_target ON status_subscriptions (target, subscriber);
CREATE TABLE custom_statuses (
    user_id       TEXT PRIMARY KEY,
    custom_status TEXT NOT NULL
);
