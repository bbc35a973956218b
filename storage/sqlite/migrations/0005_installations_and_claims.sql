-- Slack installations and OAuth states move into Paperboy's own tables (they were slack_sdk's sqlite3
-- stores, with blocking calls on the event loop). `data` is the record as slack_sdk serialises it.
CREATE TABLE installations (
    kind          TEXT NOT NULL CHECK (kind IN ('bot', 'installation')),
    enterprise_id TEXT NOT NULL DEFAULT '',
    team_id       TEXT NOT NULL DEFAULT '',
    user_id       TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL,
    installed_at  TEXT NOT NULL,
    PRIMARY KEY (kind, enterprise_id, team_id, user_id)
);
CREATE INDEX installations_newest ON installations (kind, enterprise_id, team_id, installed_at);

-- slack_sdk's own state store made a table of this name in the same file; its states are one-time and
-- last 10 minutes, so they go.
DROP TABLE IF EXISTS oauth_states;
CREATE TABLE oauth_states (
    state      TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

-- Who claimed an entry in 'sending', and when: a claim by a process that is gone is settled by another.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_at TEXT;
