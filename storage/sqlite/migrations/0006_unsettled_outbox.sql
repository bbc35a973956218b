-- Every claim and every due-entry look-up asks for a channel's older unsettled entries (so a channel's
-- posts never overtake each other); this keeps that look-up to the few rows still owed, however long
-- the channel's history.
CREATE INDEX outbox_unsettled ON outbox (channel_id, id) WHERE state IN ('pending', 'sending');
