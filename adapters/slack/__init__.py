"""Paperboy on Slack: the Bolt adapter, its Block Kit rendering and the app manifest."""

from adapters.slack.adapter import SlackAdapter, SlackHistoryError, SlackSetupError
from adapters.slack.doctor import check_slack
from adapters.slack.oauth import manifest

__all__ = ["SlackAdapter", "SlackHistoryError", "SlackSetupError", "check_slack", "manifest"]
