"""Paperboy's testing kit, installed with the package: what a platform author needs to test a plugin.

- `MemoryAdapter`: a platform that lives in lists (push a command, pop what was said).
- `FakeClock`: a clock the test moves by hand.
- `FakeHuggingFace`, `FakeArxiv`: the paper sources as real HTTP servers on 127.0.0.1, with faults
  to queue; `seed` holds the 92 real papers the fake Hugging Face serves.
- `running_core`, `running_platform`: a real core on the fakes, and an installed platform started on it.
- `conformance`: the checks every adapter passes (`CHECKS`, `check_conformance`, `Driver`).

Nothing here imports pytest: the kit runs under any test runner. Names load on first use, so
importing one module of the kit (the seed, a fake server) does not import the whole bot.
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "MemoryAdapter": "adapters.memory",
    "FakeArxiv": "paperboy_testing.arxiv_server",
    "FakeClock": "paperboy_testing.clock",
    "CHECKS": "paperboy_testing.conformance",
    "Driver": "paperboy_testing.conformance",
    "NotApplicable": "paperboy_testing.conformance",
    "check_conformance": "paperboy_testing.conformance",
    "memory_driver": "paperboy_testing.conformance",
    "running_core": "paperboy_testing.core",
    "running_platform": "paperboy_testing.core",
    "settings_for": "paperboy_testing.core",
    "FakeHuggingFace": "paperboy_testing.hf_server",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'paperboy_testing' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
