"""`python -m visioncap_desktop`: the same entry point as the `visioncap` command."""

from __future__ import annotations

import sys

from visioncap_desktop.launcher import main

if __name__ == "__main__":
    sys.exit(main())
