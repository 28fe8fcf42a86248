"""The script both frozen executables run: `VisionCap` (windowed) and `visioncap-cli` (console).

Both behave like the `visioncap` command that pip installs (visioncap_desktop.launcher): `caption`
and `import-hf` run headless, anything else opens the app (or runs `--self-test`/`--screenshot`).
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def main() -> int:
    # First thing: in a child process that multiprocessing started by re-running this executable,
    # this runs the child's work and exits instead of starting a second app.
    multiprocessing.freeze_support()
    # A windowed Windows executable has no standard streams (sys.stdout is None); writes to them
    # (the self-test's report, progress bars, log handlers) would raise, so send them nowhere.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    from visioncap_desktop.launcher import main as launcher_main

    return launcher_main()


if __name__ == "__main__":
    sys.exit(main())
