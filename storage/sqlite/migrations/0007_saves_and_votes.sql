-- Reading lists: one row per (reader, paper), a reader being one person in one workspace or server.
-- channel_id is where the paper was saved from (NULL: a direct message, the console, or a channel
-- since removed); the leaderboard counts a channel's saves by it.
CREATE TABLE saves (
    platform   TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    paper_id   TEXT NOT NULL,
    channel_id INTEGER REFERENCES channels (id) ON DELETE SET NULL,
    saved_at   TEXT NOT NULL,
    PRIMARY KEY (platform, workspace, user_id, paper_id)
);
-- A reader's list, newest first.
CREATE INDEX saves_newest ON saves (platform, workspace, user_id, saved_at DESC, paper_id);
-- A channel's saves, for its leaderboard.
CREATE INDEX saves_by_channel ON saves (channel_id, paper_id) WHERE channel_id IS NOT NULL;

-- 👍 per channel: one per person per paper there.
CREATE TABLE votes (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    paper_id   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    voted_at   TEXT    NOT NULL,
    PRIMARY KEY (channel_id, paper_id, user_id)
);
