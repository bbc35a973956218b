"""Turn pydantic's `ValidationError` for the settings into one line per bad setting, with the fix.

Each line names the setting as it is written in the environment, says what it needs (read from the
field itself: its type, bounds, allowed values), and gives an example, e.g.
``bad setting PAPERBOY_POLL_INTERVAL: needs a number of at least 1, such as PAPERBOY_POLL_INTERVAL=900
(not 'abc')``. Done from the field's declaration, so a new setting needs nothing here.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Mapping, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

_KINDS: dict[Any, str] = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}
_SHOWN_INPUT = 40
"""A bad value is quoted back up to this many characters."""


def describe_errors(error: ValidationError, fields: Mapping[str, FieldInfo], env_names: Mapping[str, str]) -> list[str]:
    """One line per bad setting in *error*, in the order pydantic found them (one per setting)."""
    lines: dict[str, str] = {}
    for detail in error.errors():
        name = _field_name(detail, env_names)
        env_name = env_names.get(name, name.upper())
        if env_name not in lines:
            lines[env_name] = f"bad setting {env_name}: " + _explain(detail, fields.get(name), env_name)
    return list(lines.values())


def _field_name(detail: ErrorDetails, env_names: Mapping[str, str]) -> str:
    # The location is the name the value came under: the environment name (any case) or the field's.
    where = str(detail["loc"][0]) if detail["loc"] else "settings"
    by_env = {env.lower(): field for field, env in env_names.items()}
    return by_env.get(where.lower(), where)


def _explain(detail: ErrorDetails, field: FieldInfo | None, env_name: str) -> str:
    if field is None:
        return detail["msg"]
    if detail["type"] == "value_error":  # a validator of ours: its message says what is needed
        needs = str(detail.get("ctx", {}).get("error", detail["msg"]))
    else:
        needs = "needs " + _needs(field)
    example = _example(field)
    if example is not None and "such as" not in needs:
        needs += f", such as {env_name}={example}"
    shown = detail.get("input")
    if isinstance(shown, str) and not _is_secret(field):
        text = shown if len(shown) <= _SHOWN_INPUT else shown[:_SHOWN_INPUT] + "…"
        if repr(shown) not in needs:  # the shard validator quotes it already
            needs += f" (not {text!r})"
    return needs


def _needs(field: FieldInfo) -> str:
    """What a value of *field* must be, in words: "a whole number from 1 to 65535", "one of DEBUG, INFO"."""
    kind = _unoptional(field.annotation)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(kind))
    return _KINDS.get(kind, "a valid value") + _bounds(field)


def _bounds(field: FieldInfo) -> str:
    limits: dict[str, Any] = {}
    for rule in field.metadata:
        for key in ("ge", "gt", "le", "lt"):
            if isinstance(rule, getattr(annotated_types, key.capitalize())):
                limits[key] = _plain(getattr(rule, key))
    if "ge" in limits and "le" in limits:
        return f" from {limits['ge']} to {limits['le']}"
    words = {"ge": "of at least", "gt": "above", "le": "of at most", "lt": "below"}
    return "".join(f" {words[key]} {value}" for key, value in limits.items())


def _example(field: FieldInfo) -> str | None:
    """The field's first declared example, else its default; None when it has neither."""
    value = field.examples[0] if field.examples else field.default
    if value is None or _is_secret(field) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, bool):
        return "true"  # a flag's default is off: the example is the value that changes something
    return str(_plain(value))


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _unoptional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _is_secret(field: FieldInfo) -> bool:
    return _unoptional(field.annotation) is SecretStr
