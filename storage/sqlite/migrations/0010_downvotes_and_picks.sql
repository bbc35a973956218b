-- 👎 per channel ("not for us"): one per person per paper there, never shown as a count. With 👍 and
-- saves it is what a channel's interest model learns from.
CREATE TABLE downvotes (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    paper_id   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    voted_at   TEXT    NOT NULL,
    PRIMARY KEY (channel_id, paper_id, user_id)
);
-- forget me: one person's signals across a workspace's channels.
CREATE INDEX downvotes_by_user ON downvotes (user_id);
CREATE INDEX votes_by_user ON votes (user_id);
-- recommend and picks: the recent arXiv submissions of a channel's categories, from the cache.
CREATE INDEX papers_by_published ON papers (published_at);
-- How a digest picks its top N ('upvotes' or 'interest': the channel's model); the daily picks
-- (NULL: off, else how many papers) and when they last went out.
ALTER TABLE channels ADD COLUMN digest_rank TEXT NOT NULL DEFAULT 'upvotes';
ALTER TABLE channels ADD COLUMN picks INTEGER;
ALTER TABLE channels ADD COLUMN last_picks_at TEXT;
