"""Files shipped with the app (sample images, the demo bundle), found the same way from a source
tree, an installed wheel or a PyInstaller build (`sys._MEIPASS`).

A frozen build places data files at the same relative paths under `sys._MEIPASS`, so
`resource_path("assets", "samples")` names `visioncap_desktop/assets/samples` in every case.
"""

from __future__ import annotations

from pathlib import Path

from core.bundles import resources as core_resources

PACKAGE = "visioncap_desktop"
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg")


def resource_path(*parts: str) -> Path:
    """A path under this package's folder (under `sys._MEIPASS` when frozen: core's helper)."""
    return core_resources.resource_path(PACKAGE, *parts)


def demo_bundle_path() -> Path | None:
    """`core/assets/demo`, or None while this installation ships without the demo bundle.

    Delegates to core's helper so the app and the CLI agree on what counts as installed.
    """
    return core_resources.demo_bundle_path()


def sample_images() -> list[Path]:
    """The few small images `--self-test` captions."""
    folder = resource_path("assets", "samples")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)
