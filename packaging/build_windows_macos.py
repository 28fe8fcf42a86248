"""The Windows and macOS artifacts: an Inno Setup installer (or a .zip where Inno Setup is not
installed) and a .dmg holding VisionCap.app."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from build_contents import APP_NAME, ICONS, PACKAGING, BuildError, run

ISS = PACKAGING / "windows" / "visioncap.iss"


def find_iscc() -> Path | None:
    """Inno Setup's compiler, on PATH or where its installer puts it."""
    found = shutil.which("ISCC") or shutil.which("iscc")
    if found:
        return Path(found)
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and (candidate := Path(base) / "Inno Setup 6" / "ISCC.exe").is_file():
            return candidate
    return None


def iscc_command(iscc: Path, version: str, source: Path, out_dir: Path, base_name: str,
                 variant: str) -> list[str]:
    """ISCC's command line: the .iss reads these /D defines (see its #ifndef block)."""
    return [
        str(iscc),
        f"/DAppVersion={version}",
        f"/DSourceDir={source}",
        f"/DOutputDir={out_dir}",
        f"/DOutputBaseName={base_name}-setup",
        f"/DIconFile={ICONS / 'visioncap.ico'}",
        # setup.exe cannot hold more than about 2 GB: the CUDA variant spans setup-N.bin files
        f"/DDiskSpanning={'yes' if variant == 'cuda' else 'no'}",
        str(ISS),
    ]


def make_windows_installer(folder: Path, out_dir: Path, base_name: str, version: str, variant: str) -> Path:
    iscc = find_iscc()
    if iscc is None:
        print("ISCC.exe (Inno Setup 6) not found: writing a .zip instead. Install Inno Setup from "
              "https://jrsoftware.org/isinfo.php or put ISCC on PATH for a setup.exe.")
        return Path(shutil.make_archive(str(out_dir / base_name), "zip", folder.parent, folder.name))
    run(iscc_command(iscc, version, folder, out_dir, base_name, variant))
    return out_dir / f"{base_name}-setup.exe"


def make_dmg(dist: Path, base_name: str) -> Path:
    """A compressed .dmg with VisionCap.app and a link to /Applications to drag it onto."""
    app = dist / f"{APP_NAME}.app"
    if not app.is_dir():
        raise BuildError(f"{app} is missing: the spec makes it only when PyInstaller runs on macOS")
    dmg = dist / f"{base_name}.dmg"
    with tempfile.TemporaryDirectory(prefix="visioncap-dmg-") as staging:
        run(["ditto", str(app), str(Path(staging) / app.name)])
        (Path(staging) / "Applications").symlink_to("/Applications")
        run(["hdiutil", "create", "-volname", APP_NAME, "-srcfolder", staging, "-fs", "HFS+",
             "-format", "UDZO", "-ov", str(dmg)])
    return dmg
