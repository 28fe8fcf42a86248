"""The `visioncap` command: headless subcommands go to core's CLI, everything else opens the app.

Kept free of Qt and torch imports so that `visioncap caption ...` never loads Qt and the
window can appear before torch is imported. Before the app loads Qt on Linux, it checks for the
system libraries Qt needs and that a build cannot bring along (system_libraries.py: the graphics
driver's libGL/libEGL and the display's libxcb or Wayland libraries), so a bare system gets one
line per missing library with its install command instead of an ImportError.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from core.cli.main import COMMANDS  # light: argparse only

    if argv and argv[0] in COMMANDS:
        from core.cli.main import main as cli_main

        return cli_main(argv)
    from visioncap_desktop.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
