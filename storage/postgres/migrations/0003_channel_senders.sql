-- Which process is delivering a channel, until when: one process sends a channel's posts at a
-- time, so Slack's one-a-second per channel is kept by one pacer and posts never overtake each
-- other. Renewed by every claim; a dead process's lease simply runs out. Not copied by `db copy`.
CREATE TABLE channel_senders (
    channel_id BIGINT PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    owner      TEXT NOT NULL,
    until      TIMESTAMPTZ NOT NULL
);
