-- The outbox: every message Paperboy owes a channel, with its delivery state.
-- A single paper post, a digest, an "and N more" roll-up, or an edit of an earlier post.
-- pending -> sending -> sent; back to pending with a retry time; dead after too many tries.
-- The deliveries ledger still says, per (channel, paper), whether the paper was handed over.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('paper', 'digest', 'rollup', 'update')),
    tag             TEXT    NOT NULL,
    paper_ids       TEXT    NOT NULL,  -- JSON array
    title           TEXT,
    target_ref      TEXT,              -- for an update: the message to edit
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    message_ref     TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    -- One message per tag per channel: enqueueing the same post twice is a no-op.
    UNIQUE (channel_id, tag)
);

-- The worker's query: due rows, and the ambiguous ones left in 'sending' by a crash.
CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at);
-- The flood limit counts a channel's recent single posts.
CREATE INDEX outbox_by_channel ON outbox (channel_id, created_at);

-- Who subscribed, as the platform's user id, so Paperboy can tell them when a channel is paused.
ALTER TABLE topics ADD COLUMN added_by_id TEXT;

-- What a sent single-paper post showed (code link, upvote milestone), to edit it when that changes.
ALTER TABLE deliveries ADD COLUMN posted_state TEXT;

-- Rows a version-2 database was still going to post move into the outbox.
INSERT INTO outbox (channel_id, kind, tag, paper_ids, state, created_at)
SELECT channel_id, 'paper', 'paper:' || paper_id, json_array(paper_id), 'pending', created_at
FROM deliveries WHERE state = 'pending';
