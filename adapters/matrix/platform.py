"""Matrix as a Paperboy platform: the entry point ``paperboy.platforms`` names `platform`.

Light on purpose: matrix-nio loads only when the adapter is created or checked.
"""

from __future__ import annotations

import argparse
from typing import Any

from adapters.matrix.settings import MatrixSettings, check_matrix_settings
from bot.ports.adapter import BUTTONS, THREADS


class Matrix:
    name = "matrix"
    title = "Matrix"
    settings = MatrixSettings
    switches = ("MATRIX_HOMESERVER",)
    group_hint = "the person's Matrix id (@name:server)"
    # Synapse's access tokens (syt_…, and older macaroons MDAx…); the prefix stays, to say which kind it was.
    secret_patterns = (r"(?P<keep>syt_)[A-Za-z0-9_]{10,}", r"(?P<keep>MDAx)[A-Za-z0-9_+/=-]{20,}")
    loggers = ("nio",)
    idle_warnings = ()
    # Reactions are its buttons: cards carry their actions, and the adapter adds 🔖 👍 👎 under each post.
    capabilities = frozenset({BUTTONS, THREADS})

    def configured(self, settings: Any) -> bool:
        return bool(settings.matrix_homeserver)

    def check_settings(self, settings: Any) -> str | None:
        return check_matrix_settings(settings)

    async def doctor_check(self, settings: Any) -> list:
        from adapters.matrix.doctor import check_matrix

        return await check_matrix(settings)

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        pass

    def create(self, core: Any, engine: Any) -> Any:
        from adapters.matrix.adapter import MatrixAdapter

        return MatrixAdapter(core.settings, engine)

    async def unfinished_migration(self, store: Any) -> str | None:
        return None


platform = Matrix()
