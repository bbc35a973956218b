-- Paperboy's first schema: channels, topics, cached papers, saved lists, the delivery ledger, key-value state.
-- Datetimes are ISO-8601 UTC text with microseconds, so text order is time order.

CREATE TABLE channels (
    id             INTEGER PRIMARY KEY,
    platform       TEXT    NOT NULL,
    workspace      TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    realtime       INTEGER NOT NULL,
    digest_time    TEXT,
    timezone       TEXT    NOT NULL,
    top_n          INTEGER NOT NULL,
    min_upvotes    INTEGER NOT NULL,
    paused_reason  TEXT,
    last_digest_at TEXT,
    created_at     TEXT    NOT NULL,
    UNIQUE (platform, workspace, channel)
);

CREATE TABLE topics (
    id             INTEGER PRIMARY KEY,
    channel_id     INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    query          TEXT    NOT NULL,
    added_by       TEXT    NOT NULL,
    added_at       TEXT    NOT NULL,
    baseline_taken INTEGER NOT NULL DEFAULT 0,
    -- NOCASE: "LLM" and "llm" find the same papers, so they are one topic.
    UNIQUE (channel_id, query COLLATE NOCASE)
);

-- The Paper's JSON is the record; the other columns are copies kept for filtering and ordering.
CREATE TABLE papers (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    source       TEXT NOT NULL,
    upvotes      INTEGER,
    daily_date   TEXT,
    published_at TEXT,
    data         TEXT NOT NULL
);

CREATE TABLE paper_lists (
    name      TEXT PRIMARY KEY,
    paper_ids TEXT NOT NULL,  -- JSON array, in the list's order
    saved_at  TEXT NOT NULL
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    paper_id        TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('baseline', 'pending', 'queued', 'sent', 'skipped')),
    why             TEXT,
    topic_id        INTEGER REFERENCES topics (id) ON DELETE SET NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    message_ref     TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    -- A paper is posted to a channel at most once, whatever topic matched it.
    UNIQUE (channel_id, paper_id)
);

CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
