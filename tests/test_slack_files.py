"""`/papers saved bibtex` on Slack: a real ``.bib`` file, uploaded with files_upload_v2 to the caller's DM.

The real Bolt app on loopback, signed slash commands, the fake Slack (which plays the
three steps of an upload) and the real core.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import aiohttp
import pytest

from adapters.slack import SlackAdapter, manifest
from bot.runtime.app import Core
from bot.model.rows import Reader
from tests.fakes.slack_server import FakeSlack
from tests.test_slack_adapter import (  # the same fakes, core and adapter
    SHOW_ID, adapter, all_text, core, hf, run_command, slack,
)

POINTER = "Your reading list as BibTeX (1 entry): sent to your direct messages with Paperboy as reading-list.bib"


async def save_show_paper(core: Core, user_id: str = "U1") -> None:
    """Put `SHOW_ID` on *user_id*'s reading list, and the paper in the cache."""
    assert await core.store.get_paper(SHOW_ID) is not None
    await core.store.save_paper(Reader("slack", "T1", user_id), SHOW_ID, channel_id=None,
                                at=datetime.now(timezone.utc))


@pytest.fixture
async def saved(core: Core, adapter: SlackAdapter, slack: FakeSlack) -> None:
    await run_command(adapter, slack, "today")  # fills the cache from the fake Hugging Face
    await save_show_paper(core)


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text] == []


async def test_saved_bibtex_arrives_as_a_bib_file_in_the_callers_dm(
    saved: None, adapter: SlackAdapter, slack: FakeSlack, caplog: pytest.LogCaptureFixture,
) -> None:
    response = await run_command(adapter, slack, "saved bibtex")

    [upload] = slack.files_in(slack.dm_channel("U1"))
    assert upload.filename == "reading-list.bib" and upload.title == "reading-list.bib"
    assert "@misc{" in upload.text and SHOW_ID in upload.text
    assert upload.initial_comment is not None and "BibTeX" in upload.initial_comment
    assert [f for f in slack.files if f.channel_id == "C1"] == []  # never shared in the channel
    [opened] = slack.calls_to("conversations.open")
    assert opened.params["users"] == "U1" and opened.token == "xoxb-test"
    assert response["response_type"] == "ephemeral"
    assert POINTER in all_text(response)
    assert "@misc{" not in all_text(response)
    no_traceback(caplog)


async def test_without_files_write_the_file_comes_as_text_with_one_line_why(
    saved: None, adapter: SlackAdapter, slack: FakeSlack, caplog: pytest.LogCaptureFixture,
) -> None:
    slack.fail("files.getUploadURLExternal", "missing_scope")
    with caplog.at_level(logging.WARNING):
        response = await run_command(adapter, slack, "saved bibtex")

    assert slack.files == []
    assert response["response_type"] == "ephemeral"
    first, *rest = response["blocks"]
    reason = first["elements"][0]["text"]
    assert first["type"] == "context" and "\n" not in reason
    assert "missing_scope" in reason and "files:write" in reason
    assert "@misc{" in all_text(response) and SHOW_ID in json.dumps(rest)
    assert POINTER not in all_text(response)
    no_traceback(caplog)


async def test_a_refused_upload_url_also_falls_back_to_text(
    saved: None, adapter: SlackAdapter, slack: FakeSlack, caplog: pytest.LogCaptureFixture,
) -> None:
    slack.answer_raw("files.getUploadURLExternal", json.dumps(
        {"ok": True, "upload_url": f"{slack.base_url}/upload/nothing", "file_id": "Fnothing"}
    ), status=200, content_type="application/json")
    response = await run_command(adapter, slack, "saved bibtex")

    assert slack.files == []
    assert response["blocks"][0]["type"] == "context"
    assert "could not send reading-list.bib" in response["blocks"][0]["elements"][0]["text"]
    assert "@misc{" in all_text(response)
    no_traceback(caplog)


async def test_the_fake_refuses_uploads_without_a_known_bot_token(slack: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        for method in ("files.getUploadURLExternal", "files.completeUploadExternal", "conversations.open"):
            async with session.post(f"{slack.api_url}{method}", data={"token": "xoxb-wrong"}) as answer:
                assert (await answer.json())["error"] == "invalid_auth"


def test_the_manifest_asks_for_files_write_and_im_write() -> None:
    assert {"files:write", "im:write"} <= set(manifest()["oauth_config"]["scopes"]["bot"])
