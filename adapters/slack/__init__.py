"""Paperboy on Slack: the Bolt adapter, its Block Kit rendering and the app manifest.

Its names load on first use, so that finding the platform (`adapters.slack.platform`) does not import slack-bolt.
"""

from importlib import import_module

_NAMES = {"SlackAdapter": "adapter", "SlackHistoryError": "adapter", "SlackSetupError": "adapter",
          "check_slack": "doctor", "manifest": "oauth"}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> object:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_NAMES[name]}"), name)
