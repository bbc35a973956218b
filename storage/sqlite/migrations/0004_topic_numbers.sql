-- Each topic keeps the number it was first shown with in its channel, so `unsubscribe 1` then
-- `unsubscribe 3` removes the topics shown as 1 and 3. Existing topics are numbered oldest first.
ALTER TABLE topics ADD COLUMN number INTEGER;

UPDATE topics SET number = (
    SELECT count(*) FROM topics AS older
    WHERE older.channel_id = topics.channel_id
      AND (older.added_at < topics.added_at OR (older.added_at = topics.added_at AND older.id <= topics.id))
);

CREATE UNIQUE INDEX topics_channel_number ON topics (channel_id, number);
