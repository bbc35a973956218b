-- A channel's digest may go out on some days of the week only: NULL is every day, 'mon-fri' the
-- weekdays, one day ('mon') a weekly digest. The time stays in digest_time, in the channel's zone.
ALTER TABLE channels ADD COLUMN digest_days TEXT;
