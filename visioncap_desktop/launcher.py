"""The `visioncap` command: headless subcommands go to core's CLI, everything else opens the app.

Kept free of Qt and torch imports so that `visioncap caption ...` never loads Qt and the
window can appear before torch is imported.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from core.cli import COMMANDS  # light: argparse only

    if argv and argv[0] in COMMANDS:
        from core.cli import main as cli_main

        return cli_main(argv)
    from visioncap_desktop.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
