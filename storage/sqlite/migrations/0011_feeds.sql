-- Atom feeds (`feed`): one row per feed a channel or a person has asked for. Its URL carries an HMAC of
-- (id, owner, generation) under PAPERBOY_FEED_SECRET; `feed reset` bumps the generation, so the old URL
-- stops working. owner is the core's opaque name of whose feed it is (a channel, or one person's list).
CREATE TABLE feeds (
    id         INTEGER PRIMARY KEY,
    owner      TEXT    NOT NULL UNIQUE,
    generation INTEGER NOT NULL DEFAULT 1,
    created_at TEXT    NOT NULL
);
-- A channel's feed: its posts, newest first.
CREATE INDEX deliveries_sent_by_channel ON deliveries (channel_id, sent_at) WHERE state = 'sent';
