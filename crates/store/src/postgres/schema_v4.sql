-- Version 4: per-user UserSig revocation: UserSigs issued before not_before (Unix seconds)
-- are refused at login. Not tied to users: it must outlive a deleted account.
CREATE TABLE user_sig_revocations (
    user_id    TEXT PRIMARY KEY,
    not_before BIGINT NOT NULL
);
