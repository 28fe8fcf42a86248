"""Preferences and user folders: one table of defaults, JSON in the (redirected) config folder."""

from __future__ import annotations

import json

import pytest

from visioncap_desktop import paths
from visioncap_desktop.settings import DEFAULTS, GENERATION_DEFAULTS, MAX_RECENT_FOLDERS, Settings


def test_user_folders_follow_visioncap_home(app_home):
    for folder in (paths.user_config_dir(), paths.user_data_dir(), paths.user_cache_dir(),
                   paths.captions_dir(), paths.thumbnails_dir(), paths.models_dir()):
        assert folder.is_relative_to(app_home)


def test_defaults_then_round_trip(settings):
    assert settings.get("device") == "auto"
    assert settings.get("generation") == GENERATION_DEFAULTS
    settings.set("device", "cpu")
    settings.set("generation", {**GENERATION_DEFAULTS, "strategy": "beam", "num_beams": 3})
    settings.set("include_subfolders", True)
    again = Settings.load()
    assert again.get("device") == "cpu"
    assert again.get("generation")["strategy"] == "beam" and again.get("generation")["num_beams"] == 3
    assert again.get("include_subfolders") is True
    assert Settings.default_path().is_relative_to(paths.user_config_dir())
    for device in ("cuda", "mps", "xpu"):  # each GPU kind core.captioning.device knows can be saved
        settings.set("device", device)
        assert Settings.load().get("device") == device


def test_get_returns_copies(settings):
    settings.get("recent_folders").append("x")
    settings.get("generation")["strategy"] = "beam"
    assert settings.get("recent_folders") == [] and settings.get("generation")["strategy"] == "greedy"


def test_bad_values_in_the_file_fall_back_to_defaults(app_home):
    path = Settings.default_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"device": "tpu", "batch_size": "eight", "include_subfolders": 1,
                                "generation": {"strategy": "magic", "top_k": 5, "temperature": 2, "top_p": 0.0,
                                               "num_beams": 0},
                                "unknown": 1}), encoding="utf-8")
    settings = Settings.load()
    assert settings.get("device") == DEFAULTS["device"]
    assert settings.get("batch_size") == DEFAULTS["batch_size"]
    assert settings.get("include_subfolders") is False
    assert settings.get("generation") == {**GENERATION_DEFAULTS, "top_k": 5, "temperature": 2.0}


def test_corrupt_file_gives_defaults(app_home):
    path = Settings.default_path()
    path.parent.mkdir(parents=True)
    path.write_text("{nope", encoding="utf-8")
    assert Settings.load().get("view_mode") == "grid"


def test_set_rejects_bad_values(settings):
    with pytest.raises(ValueError):
        settings.set("device", "tpu")
    with pytest.raises(KeyError):
        settings.set("colour", "blue")


def test_recent_folders_most_recent_first_without_duplicates(settings):
    for i in range(MAX_RECENT_FOLDERS + 3):
        settings.add_recent_folder(f"/photos/{i}")
    settings.add_recent_folder("/photos/5")
    recent = Settings.load().get("recent_folders")
    assert recent[0] == "/photos/5" and len(recent) == MAX_RECENT_FOLDERS and len(set(recent)) == len(recent)
    assert Settings.load().get("last_folder") == "/photos/5"


def test_the_dialog_labels_every_strategy():
    from core.captioning.generation_settings import STRATEGIES
    from visioncap_desktop.dialogs.settings_dialog import STRATEGY_LABELS

    assert tuple(STRATEGY_LABELS) == STRATEGIES
