"""Paperboy's platform-agnostic core: papers, sources, topics, commands, the poller."""
