-- A poll queues tens of thousands of outbox rows at once, and every index on the outbox takes each one:
-- two of those indexes took a third of the insert's time and served queries that need only a few rows.
--
-- outbox_by_state (state, next_attempt_at) held every row, sent ones included. What asks by state wants
-- the rows out of the ordinary: those being sent (abandoned_outbox, outbox_unconfirmed), retrying later
-- (next_outbox_retry, the due entries' "an older one waits" check) or given up. A fresh row (pending,
-- no retry time) is none of these, so it costs this index nothing; the due entries themselves are the
-- unsettled ones (outbox_unsettled).
DROP INDEX outbox_by_state;
CREATE INDEX outbox_exceptions ON outbox (state, next_attempt_at)
    WHERE state IN ('sending', 'dead') OR next_attempt_at IS NOT NULL;
-- outbox_by_channel (channel_id, created_at) was one more page per row, touched at random. A channel's
-- history (recent_outbox, paper_outbox, its counts) is found through (channel_id, tag), which the table
-- keeps anyway; the flood limit's count of the last hour's single posts reads the rows of the last hour,
-- which sit together at the end of the table: a block range index finds them, at almost no cost per row.
DROP INDEX outbox_by_channel;
CREATE INDEX outbox_by_time ON outbox USING brin (created_at);
