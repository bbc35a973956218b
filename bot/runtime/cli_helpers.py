"""The `paperboy` commands that are one-off helpers of the core: `doctor` (each platform adds its own)."""

from __future__ import annotations

import argparse

from bot.runtime.runner import run


def run_doctor(args: argparse.Namespace) -> int:
    from bot.runtime.doctor import run_doctor as doctor

    try:
        return run(doctor())
    except KeyboardInterrupt:
        return 130
