"""What channels get and when: the poller, the outbox worker, batching, pacing, digest schedules."""
