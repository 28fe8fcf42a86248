"""Config values checked against the dataclass field types, before anything uses them.

A config file is JSON written by hand, and `--set key=value` is text: both are checked here
against the types the dataclass declares, so `"lr": "fast"` is reported as `train.json: lr:
expected a number, got the string "fast"` instead of a TypeError from deep inside Adam.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable


class ConfigError(ValueError):
    """A config value of the wrong type or an unknown key; the message names the key and its source."""


def _optional(hint) -> tuple[object, bool]:
    """(the type inside `X | None`, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def expected(hint) -> str:
    """What a value of this type looks like, for messages: "a number", "an integer or null"."""
    inner, nullable = _optional(hint)
    origin = typing.get_origin(inner)
    if inner is bool:
        text = "true or false"
    elif inner is int:
        text = "an integer"
    elif inner is float:
        text = "a number"
    elif inner is str:
        text = "a string"
    elif origin is tuple:
        text = f"a list of {len(typing.get_args(inner))} numbers"
    elif origin is list:
        text = "a list"
    elif dataclasses.is_dataclass(inner):
        text = "an object"
    else:
        text = str(inner)
    return f"{text} or null" if nullable else text


def describe(value) -> str:
    """A JSON value as a message names it: 'the string "fast"', 'the number 3.5', 'a list'."""
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_value(key: str, value, hint, nested: Callable[[type, dict, str], dict]):
    """`value` if it fits `hint` (an int for a float becomes a float), else ConfigError naming
    `key`. `nested` checks the fields of a dataclass-typed value given as a dict."""
    inner, nullable = _optional(hint)
    if value is None:
        if nullable:
            return None
    elif inner is bool:
        if isinstance(value, bool):
            return value
    elif inner is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif inner is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(inner) is tuple:
        size = len(typing.get_args(inner))
        if isinstance(value, (list, tuple)) and len(value) == size and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return tuple(float(v) for v in value)
    elif typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner)
        if isinstance(value, list):
            return [check_value(f"{key}[{i}]", v, item, nested) for i, v in enumerate(value)]
    elif dataclasses.is_dataclass(inner):
        if isinstance(value, inner):
            return value
        if isinstance(value, dict):
            return nested(inner, value, f"{key}.")
    raise ConfigError(f"{key}: expected {expected(hint)}, got {describe(value)}")


def check_fields(cls: type, data: dict, prefix: str = "") -> dict:
    """`data` with every value checked against `cls`'s field types; unknown keys refused."""
    hints = typing.get_type_hints(cls)
    what = prefix.rstrip(".") or "training config"
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ConfigError(f"unknown {what} keys: {', '.join(unknown)} (known: {', '.join(hints)})")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{what}: missing {', '.join(missing)}")
    return {key: check_value(prefix + key, value, hints[key], check_fields) for key, value in data.items()}


def from_text(text: str, hint):
    """A value of type `hint` from command-line text; ValueError if it is not one."""
    inner, nullable = _optional(hint)
    if nullable and text.strip().lower() in ("none", "null", ""):
        return None
    if inner is bool:
        word = text.strip().lower()
        if word in ("true", "yes", "on", "1"):
            return True
        if word in ("false", "no", "off", "0"):
            return False
        raise ValueError(text)
    if inner is int:
        return int(text)
    if inner is float:
        return float(text)
    if inner is str:
        return text
    if typing.get_origin(inner) is tuple:
        return [float(part) for part in text.split(",")]
    return json.loads(text)  # lists and objects as JSON
