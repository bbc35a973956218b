-- A channel may open a discussion thread on each single-paper post, and post its leaderboard weekly
-- ("<day> <HH:MM> <time zone>"); a topic may mention a group (a Slack user group, a Discord role) in
-- its posts, kept as the platform's id and the name the manager picked; an outbox entry carries that
-- mention from the moment it is queued.
ALTER TABLE channels ADD COLUMN threads boolean NOT NULL DEFAULT false;
ALTER TABLE channels ADD COLUMN leaderboard_schedule text;
ALTER TABLE topics ADD COLUMN notify text;
ALTER TABLE topics ADD COLUMN notify_name text;
ALTER TABLE outbox ADD COLUMN mention text;

-- Two more kinds: 'thread' (open the thread of a sent post, its target_ref) and 'leaderboard'.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('paper', 'digest', 'rollup', 'update', 'thread', 'leaderboard'));

-- enqueue_refresh looks up a channel's sent post by its message, and a pending edit of it.
CREATE INDEX outbox_by_message ON outbox (channel_id, message_ref) WHERE message_ref IS NOT NULL;
CREATE INDEX outbox_by_target ON outbox (channel_id, target_ref) WHERE target_ref IS NOT NULL;
