"""The one kind of error a user is shown as their own mistake."""

from __future__ import annotations


class UsageError(ValueError):
    """The user's input is wrong; the message says how to fix it.

    Only this class (and its subclasses: bad queries, paper ids, times, zones) reaches a user
    as "you typed something wrong". Any other exception is Paperboy's fault, logged, and
    answered with a generic line, so internal text ("Exceeds the limit (4300 digits)…") never leaks.
    """
