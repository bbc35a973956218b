-- The ledger's one row per (channel, paper), kept by a unique index that leads with the paper (as Postgres's
-- migration 0009): a poll asks, for each new paper, which of the channels it matched have it already, and
-- queues thousands of rows for a few new papers. Led by the channel, each new row dirtied a page of its own,
-- which the commit then wrote out; led by the paper, a paper's new rows sit together on a few pages.
-- The column order of a UNIQUE cannot change in place, so the table is rebuilt with its rows and ids
-- (SQLite's documented procedure for a changed table: nothing references deliveries, so the foreign keys
-- stay on; its triggers: none; its indexes and the schema's other objects are made again below).
--
-- Checking each new row's topic against topics, and the index on topic_id the ON DELETE SET NULL needed,
-- cost another page per row. `remove_topic` clears the topic from the ledger itself now, through its
-- channel's rows; a topic removed while a poll queues its matches leaves a topic id that names nothing,
-- read as "a topic since removed", instead of failing the whole poll's queueing.
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    paper_id        TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('baseline', 'pending', 'queued', 'sent', 'skipped')),
    why             TEXT,
    topic_id        INTEGER,           -- the topic that matched; no foreign key (see above)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    message_ref     TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    posted_state    TEXT,
    -- A paper is posted to a channel at most once, whatever topic matched it.
    UNIQUE (paper_id, channel_id)
);
INSERT INTO deliveries_new (id, channel_id, paper_id, state, why, topic_id, attempts, next_attempt_at, last_error,
                            message_ref, created_at, sent_at, posted_state)
SELECT id, channel_id, paper_id, state, why, topic_id, attempts, next_attempt_at, last_error,
       message_ref, created_at, sent_at, posted_state
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
-- A channel's rows: its ledger, its digest's queue, its counts; and remove_topic's look-up.
CREATE INDEX deliveries_by_channel_state ON deliveries (channel_id, state);
CREATE INDEX deliveries_sent_by_channel ON deliveries (channel_id, sent_at) WHERE state = 'sent';
-- Each poll asks which of the listed papers were posted as cards (to edit them when they gain code or
-- upvotes): a few rows, where the index above, led by the paper, would have it read every channel's row
-- of each listed paper, baselines and all.
CREATE INDEX deliveries_posted_cards ON deliveries (paper_id)
    WHERE state = 'sent' AND message_ref IS NOT NULL AND posted_state IS NOT NULL;
-- deliveries_pending (pending rows by age) is not made again: the outbox took over what was due (0003),
-- and nothing reads the ledger's pending rows by age since; it only cost every posted row an entry.
