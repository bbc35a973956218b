-- The ledger's one row per (channel, paper), kept by an index that leads with the paper: a poll asks,
-- for each new paper, which of the channels it matched have it already, and queues thousands of rows for
-- a few new papers. Led by the channel, each of those touched a page of its own; led by the paper, they sit
-- together, and "which channels have this paper" reads one short range. ON CONFLICT (channel_id, paper_id)
-- finds this index as before (the order of its columns does not matter there).
CREATE UNIQUE INDEX deliveries_paper_channel ON deliveries (paper_id, channel_id);
ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_id_paper_id_key;
-- The posted cards of a list's papers (edits of earlier posts) read the index above now.
DROP INDEX deliveries_by_paper;
-- Checking each new ledger row's topic against topics took as long as inserting the row. Removing a topic
-- clears it from the ledger itself (`remove_topic`), which is all the constraint's ON DELETE SET NULL did;
-- a topic removed while a poll queues its matches leaves a topic id that names nothing, which reads as
-- "a topic since removed", instead of failing the whole poll's queueing.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_topic_id_fkey;
-- The same for the channel of each new ledger and outbox row: a third of each insert's time went to its
-- foreign key's per-row check. Paperboy never deletes a channel (a room it leaves is paused, its history
-- kept), so the ON DELETE CASCADE never ran; every row is written with a channel id just read from channels.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_id_fkey;
-- remove_topic finds a topic's ledger rows through its channel's, so the index on topic_id, another page
-- touched by every new row, goes too.
DROP INDEX deliveries_by_topic;
