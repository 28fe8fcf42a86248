"""A trained bundle's provenance without the paths of the machine it was trained on.

A bundle is shared; its run folder is not. So the bundle's manifest records each path relative
to the run folder when it lies inside it, and by its file name otherwise: the model config
`/home/me/recipes/tiny.json` becomes `tiny.json`, the run folder itself `.`. The absolute paths
in the recorded commands are shortened the same way; relative paths, as typed, stay. The run's
checkpoints keep the absolute paths, which a resume needs.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from training.splits import MAYBE_PATH_FIELDS, PATH_FIELDS

# Provenance and train-config keys whose string values are paths
PATH_KEYS = frozenset({*PATH_FIELDS, *MAYBE_PATH_FIELDS, "out", "export_bundle"})
COMMAND_KEYS = ("command", "resume_commands")


def portable_path(path: str, run: Path) -> str:
    """`path` relative to the run folder `run` when inside it, else its file name; a relative
    path, or a name that is no path (a timm model, a hub id), stays as it is."""
    p = Path(path)
    if not p.is_absolute():
        return path
    try:
        return p.relative_to(run).as_posix()
    except ValueError:
        return p.name


def portable_command(command: str, run: Path) -> str:
    """A recorded command line with its absolute paths made portable, also after `=`
    (`--out=PATH`, `--set model_config=PATH`)."""
    def argument(arg: str) -> str:
        key, equals, value = arg.partition("=")
        if equals and not Path(arg).is_absolute() and Path(value).is_absolute():
            return f"{key}={portable_path(value, run)}"
        return portable_path(arg, run)

    return shlex.join(argument(arg) for arg in shlex.split(command))


def portable_provenance(provenance: dict, run: Path) -> dict:
    """A copy of `provenance` with every path under PATH_KEYS (at any depth) and every command
    under COMMAND_KEYS made portable."""
    def walk(value):
        if isinstance(value, dict):
            return {key: convert(key, item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    def convert(key: str, value):
        if key in PATH_KEYS and isinstance(value, str):
            return portable_path(value, run)
        if key in COMMAND_KEYS:
            if isinstance(value, str):
                return portable_command(value, run)
            if isinstance(value, list):
                return [portable_command(c, run) if isinstance(c, str) else c for c in value]
        return walk(value)

    return walk(provenance)
