"""Where the app keeps its files: settings (config), caption stores and models (data), thumbnails
(cache). The three user folders (and VISIONCAP_HOME) are core's (core/bundles/user_dirs.py), shared with
the bundle verification cache; this module names what the app keeps in them.
"""

from __future__ import annotations

from pathlib import Path

from core.bundles.user_dirs import (
    APP_NAME,
    HOME_ENV,
    user_cache_dir,
    user_config_dir,
    user_data_dir,
)

__all__ = [
    "APP_NAME",
    "HOME_ENV",
    "captions_dir",
    "log_file",
    "models_dir",
    "thumbnails_dir",
    "user_cache_dir",
    "user_config_dir",
    "user_data_dir",
]


def captions_dir() -> Path:
    """One JSON caption store per opened folder."""
    return user_data_dir() / "captions"


def models_dir() -> Path:
    """Bundles the app downloaded or imported itself."""
    return user_data_dir() / "models"


def thumbnails_dir() -> Path:
    return user_cache_dir() / "thumbnails"


def log_file() -> Path:
    return user_data_dir() / "logs" / "visioncap.log"
