-- Full-text search over cached papers, and the indexes behind the poller's queries.

-- A standalone FTS5 table keyed by papers.rowid; triggers keep it in step with papers.data,
-- so every writer (and this migration's backfill) indexes papers the same way.
CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, abstract, ai_keywords, ai_summary, authors,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, abstract, ai_keywords, ai_summary, authors)
    VALUES (
        new.rowid,
        json_extract(new.data, '$.title'),
        json_extract(new.data, '$.abstract'),
        (SELECT group_concat(value, ', ') FROM json_each(new.data, '$.ai_keywords')),
        json_extract(new.data, '$.ai_summary'),
        (SELECT group_concat(value, ', ') FROM json_each(new.data, '$.authors'))
    );
END;

CREATE TRIGGER papers_fts_update AFTER UPDATE OF data ON papers BEGIN
    DELETE FROM papers_fts WHERE rowid = old.rowid;
    INSERT INTO papers_fts (rowid, title, abstract, ai_keywords, ai_summary, authors)
    VALUES (
        new.rowid,
        json_extract(new.data, '$.title'),
        json_extract(new.data, '$.abstract'),
        (SELECT group_concat(value, ', ') FROM json_each(new.data, '$.ai_keywords')),
        json_extract(new.data, '$.ai_summary'),
        (SELECT group_concat(value, ', ') FROM json_each(new.data, '$.authors'))
    );
END;

CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    DELETE FROM papers_fts WHERE rowid = old.rowid;
END;

-- Papers cached before this migration become searchable too.
INSERT INTO papers_fts (rowid, title, abstract, ai_keywords, ai_summary, authors)
SELECT
    rowid,
    json_extract(data, '$.title'),
    json_extract(data, '$.abstract'),
    (SELECT group_concat(value, ', ') FROM json_each(data, '$.ai_keywords')),
    json_extract(data, '$.ai_summary'),
    (SELECT group_concat(value, ', ') FROM json_each(data, '$.authors'))
FROM papers;

-- papers_since: daily_date >= ?, newest first.
CREATE INDEX papers_by_daily_date ON papers (daily_date);

-- due_deliveries: pending rows, oldest first; queued_deliveries and delivery_counts: per channel and state.
CREATE INDEX deliveries_pending ON deliveries (created_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_by_channel_state ON deliveries (channel_id, state);

-- Removing a topic sets deliveries.topic_id to NULL; without this index that is a full scan.
CREATE INDEX deliveries_by_topic ON deliveries (topic_id);

-- paused_channels and the join in due_deliveries skip paused channels.
CREATE INDEX channels_paused ON channels (paused_reason) WHERE paused_reason IS NOT NULL;
