"""Keeping Python's cycle collector from stalling the window.

Once torch and a model are loaded the process holds about 400,000 objects the collector tracks,
and every full (generation 2) collection walks all of them: 50-200 ms with the GIL held, which
the GUI thread feels as a frozen window, typically while a big folder scan allocates records.
`gc.freeze()` moves everything alive now into a permanent generation that collections skip.
Frozen objects are still freed by reference counting as usual; only cycles among them would
outlive their use, and the objects frozen here (modules, the model, the records of the open
folder) hold none that matter.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_long_lived(reason: str) -> None:
    """Exclude every object alive now from future cycle collections (cheap, any thread)."""
    gc.freeze()
    log.debug("froze %d objects out of the cycle collector (%s)", gc.get_freeze_count(), reason)


_paused = 0  # nested pause_collections() calls not yet resumed
_enable_after = False


def pause_collections() -> None:
    """No cycle collections until the matching resume_collections(): for work on the GUI thread
    that allocates 100,000 objects without cycles (a batch edit's snapshots, a tag count), where
    each collection would walk them all again. Nests; GUI thread only."""
    global _paused, _enable_after
    if _paused == 0:
        _enable_after = gc.isenabled()
        gc.disable()
    _paused += 1


def resume_collections() -> None:
    global _paused
    _paused = max(0, _paused - 1)
    if _paused == 0 and _enable_after:
        gc.enable()
