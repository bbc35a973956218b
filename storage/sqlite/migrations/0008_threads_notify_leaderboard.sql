-- A channel may open a discussion thread on each single-paper post, and post its leaderboard weekly
-- ("<day> <HH:MM> <time zone>"); a topic may mention a group (a Slack user group, a Discord role) in
-- its posts, kept as the platform's id and the name the manager picked; an outbox entry carries that
-- mention from the moment it is queued.
ALTER TABLE channels ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN leaderboard_schedule TEXT;
ALTER TABLE topics ADD COLUMN notify TEXT;
ALTER TABLE topics ADD COLUMN notify_name TEXT;

-- The outbox gains two kinds: 'thread' (open the thread of a sent post, its target_ref) and
-- 'leaderboard'. SQLite cannot change a CHECK in place, so the table is rebuilt with its rows and ids.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL
                            CHECK (kind IN ('paper', 'digest', 'rollup', 'update', 'thread', 'leaderboard')),
    tag             TEXT    NOT NULL,
    paper_ids       TEXT    NOT NULL,  -- JSON array
    title           TEXT,
    target_ref      TEXT,              -- for an update: the message to edit; for a thread: the post it opens on
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    message_ref     TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    claimed_by      TEXT,
    claimed_at      TEXT,
    mention         TEXT,              -- the group a paper post mentions (its topic's notify)
    -- One message per tag per channel: enqueueing the same post twice is a no-op.
    UNIQUE (channel_id, tag)
);
INSERT INTO outbox_new (id, channel_id, kind, tag, paper_ids, title, target_ref, state, attempts, next_attempt_at,
                        last_error, message_ref, created_at, sent_at, claimed_by, claimed_at)
SELECT id, channel_id, kind, tag, paper_ids, title, target_ref, state, attempts, next_attempt_at,
       last_error, message_ref, created_at, sent_at, claimed_by, claimed_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_channel ON outbox (channel_id, created_at);
CREATE INDEX outbox_unsettled ON outbox (channel_id, id) WHERE state IN ('pending', 'sending');
-- enqueue_refresh looks up a channel's sent post by its message, and a pending edit of it.
CREATE INDEX outbox_by_message ON outbox (channel_id, message_ref) WHERE message_ref IS NOT NULL;
CREATE INDEX outbox_by_target ON outbox (channel_id, target_ref) WHERE target_ref IS NOT NULL;
