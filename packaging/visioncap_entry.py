"""The script both frozen executables run: `VisionCap` (windowed) and `visioncap-cli` (console).

Both behave like the `visioncap` command that pip installs (visioncap_desktop.launcher): `caption`
and `import-hf` run headless, anything else opens the app (or runs `--self-test`/`--screenshot`).

Before that, it keeps what torch and Qt write for themselves inside VisionCap's own folders, so
that uninstalling (`uninstall.sh --purge`, the Windows uninstaller) removes it with the rest:
torch's compile cache would otherwise go to /tmp/torchinductor_<user>, and Qt's file dialog
keeps its state in ~/.config/QtProject.conf, a file every Qt program shares.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def keep_caches_in_our_folders(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """Point torch's inductor cache into VisionCap's cache folder (before torch is imported);
    the folder it chose."""
    from core.bundles.user_dirs import user_cache_dir  # platformdirs, or under VISIONCAP_HOME

    folder = str(user_cache_dir() / "torchinductor")
    environ.setdefault("TORCHINDUCTOR_CACHE_DIR", folder)
    return environ["TORCHINDUCTOR_CACHE_DIR"]


def keep_qt_settings_in_our_folder() -> str:
    """Make Qt's own settings files (QtProject.conf: the file dialog's last folder and view)
    go under VisionCap's config folder; the app keeps its own settings in JSON files, so nothing
    of VisionCap's moves. Loads only QtCore, and only for the window (not for `caption`)."""
    from PySide6.QtCore import QSettings

    from core.bundles.user_dirs import user_config_dir

    folder = str(user_config_dir() / "qt")
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, folder)
    return folder


def main() -> int:
    # First thing: in a child process that multiprocessing started by re-running this executable,
    # this runs the child's work and exits instead of starting a second app.
    multiprocessing.freeze_support()
    # A windowed Windows executable has no standard streams (sys.stdout is None); writes to them
    # (the self-test's report, progress bars, log handlers) would raise, so send them nowhere.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    keep_caches_in_our_folders()
    from visioncap_desktop.system_libraries import TOO_OLD_EXIT, build_info, too_old

    # an older macOS or glibc than the build needs: say so in one line before torch or Qt fail
    # to load with less to say (the same line as install.sh, --check-system and the self-test)
    if problem := too_old(build_info()):
        sys.stderr.write(problem + "\n")
        return TOO_OLD_EXIT
    from core.cli.main import COMMANDS  # light: argparse only

    if not (sys.argv[1:2] and sys.argv[1] in COMMANDS) and not {"--check-system", "--self-test"} & set(sys.argv):
        keep_qt_settings_in_our_folder()  # the window: its file dialogs write Qt's settings
    from visioncap_desktop.launcher import main as launcher_main

    return launcher_main()


if __name__ == "__main__":
    sys.exit(main())
