"""A bad setting is one line naming it as written in the environment, what it needs, and an example."""

from __future__ import annotations

import pytest

from bot.runtime.settings import SettingsError, load_settings
from tests.test_cli import env  # noqa: F401  (a fixture)
from tests.test_cli import paperboy

BAD = {
    "PAPERBOY_POLL_INTERVAL": ("abc", "needs a number of at least 1, such as PAPERBOY_POLL_INTERVAL=900 (not 'abc')"),
    "PAPERBOY_LOG_LEVEL": ("loud", "needs one of DEBUG, INFO, WARNING, ERROR, such as PAPERBOY_LOG_LEVEL=INFO "
                                   "(not 'loud')"),
    "PAPERBOY_HEALTH_PORT": ("99999", "needs a whole number from 1 to 65535, such as PAPERBOY_HEALTH_PORT=8080"),
    "PAPERBOY_HTTP_TIMEOUT": ("0", "needs a number above 0, such as PAPERBOY_HTTP_TIMEOUT=10"),
    "PAPERBOY_UPDATE_POSTS": ("maybe", "needs true or false, such as PAPERBOY_UPDATE_POSTS=true"),
    "PAPERBOY_MAX_POSTS_PER_HOUR": ("1.5", "needs a whole number of at least 1, such as PAPERBOY_MAX_POSTS_PER_HOUR=10"),
    "PAPERBOY_HF_API_URL": ("huggingface", "needs a URL, such as PAPERBOY_HF_API_URL=https://huggingface.co"),
    "PAPERBOY_DISCORD_GUILD": ("general", "needs a whole number, such as PAPERBOY_DISCORD_GUILD=1234"),
    "PAPERBOY_DISCORD_SHARDS": ("all", "write the shards as ids/count, such as 0-1/4"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_kind_of_bad_value_says_what_it_needs_and_gives_an_example(name, monkeypatch):
    value, expected = BAD[name]
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    line = str(caught.value)
    assert "\n" not in line and line.startswith(f"bad setting {name}: {expected}")
    assert "Input should" not in line and "errors.pydantic.dev" not in line  # pydantic's own words stay out


def test_log_level_and_format_are_taken_in_any_case(monkeypatch):
    monkeypatch.setenv("PAPERBOY_LOG_LEVEL", "info")
    monkeypatch.setenv("PAPERBOY_LOG_FORMAT", "JSON")
    settings = load_settings(_env_file=None)
    assert (settings.log_level, settings.log_format) == ("INFO", "json")
    monkeypatch.setenv("PAPERBOY_LOG_LEVEL", " Debug ")
    assert load_settings(_env_file=None).log_level == "DEBUG"


async def test_paperboy_names_every_bad_setting_on_its_own_line_and_exits_2(env):
    bad = env | {"PAPERBOY_POLL_INTERVAL": "abc", "PAPERBOY_LOG_LEVEL": "loud"}
    code, out, err = await paperboy("console", env=bad)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "paperboy: bad setting PAPERBOY_POLL_INTERVAL: " + BAD["PAPERBOY_POLL_INTERVAL"][1],
        "paperboy: bad setting PAPERBOY_LOG_LEVEL: " + BAD["PAPERBOY_LOG_LEVEL"][1],
    ]


async def test_a_lower_case_log_level_starts_paperboy(env):
    code, out, err = await paperboy("console", env=env | {"PAPERBOY_LOG_LEVEL": "info"}, stdin="help\n")
    assert code == 0, err
    assert "Paperboy commands" in out and "bad setting" not in err
