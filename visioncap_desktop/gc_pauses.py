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
