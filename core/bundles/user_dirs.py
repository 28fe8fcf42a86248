"""VisionCap's folders in the user's home, without Qt: settings (config), caption stores and models
(data), caches. The desktop app and `core` (the bundle verification cache) share this layout.

platformdirs picks the right folder on each OS. Setting VISIONCAP_HOME moves all three under one
folder (`$VISIONCAP_HOME/config`, `data`, `cache`), which is how tests, benchmarks and portable
installs keep away from the real home folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "VisionCap"
HOME_ENV = "VISIONCAP_HOME"


def _override(kind: str) -> Path | None:
    home = os.environ.get(HOME_ENV)
    return Path(home) / kind if home else None


def user_config_dir() -> Path:
    return _override("config") or platformdirs.user_config_path(APP_NAME, appauthor=False)


def user_data_dir() -> Path:
    return _override("data") or platformdirs.user_data_path(APP_NAME, appauthor=False)


def user_cache_dir() -> Path:
    return _override("cache") or platformdirs.user_cache_path(APP_NAME, appauthor=False)
