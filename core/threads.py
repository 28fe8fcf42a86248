"""How many CPU threads the model uses, and how its idle OpenMP threads wait.

On a busy desktop the CPU is shared: with torch's defaults (one thread per core, OpenMP threads
that spin while they wait) every parallel region waits for whichever of its threads the
scheduler has put aside, and a run can become several times slower than with one thread. Two
things fix that:

- `configure_openmp` asks OpenMP threads to sleep instead of spinning when they wait
  (OMP_WAIT_POLICY=PASSIVE; KMP_BLOCKTIME=0 for Intel's and LLVM's OpenMP). OpenMP reads these
  when torch loads it, so this must run before `import torch`: `core/__init__.py` calls it.
- `ThreadPolicy` starts with a thread per CPU, less a core for the app's own threads when there
  are several (`thread_limit`), and during a run moves the count one step at a time when batch
  times say another count is faster (`Tuner`). A fixed count (`--threads N`, the app's
  setting) overrides it. It does not start lower under load: once waiting threads sleep, a
  thread per core was the fastest fixed count under every load benchmarks/under_load.py
  measured (each thread also wins its share of a busy CPU), and the load average is a minute
  late.

The decisions are plain functions of numbers (cores, batch times) so tests can feed them
any machine; `ThreadPolicy` is the small part that reads the machine and calls torch.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

# What each OpenMP implementation reads: GNU (Linux wheels) and LLVM (macOS) honour
# OMP_WAIT_POLICY; Intel's and LLVM's also KMP_BLOCKTIME (milliseconds to spin before sleeping).
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}


def configure_openmp(environ: dict | None = None) -> bool:
    """Let waiting OpenMP threads sleep, unless the user chose otherwise in the environment.

    Returns False, changing nothing, once torch is imported: OpenMP has read its settings then.
    """
    if "torch" in sys.modules:
        return False
    environ = os.environ if environ is None else environ
    for name, value in OPENMP_DEFAULTS.items():
        environ.setdefault(name, value)
    return True


def usable_cpus() -> int:
    """Logical CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # Windows, macOS


APP_RESERVE = 1  # cores the app keeps for its GUI and thumbnails: ThreadPolicy(reserve=APP_RESERVE)


def thread_limit(cpus: int, reserve: int = 0) -> int:
    """The most threads to use: every CPU, less `reserve` for the caller's own threads (the
    app's GUI and thumbnails) when that still leaves two or more."""
    return max(1, cpus - reserve if cpus - reserve >= 2 else cpus)


def thumbnail_threads(cpus: int, captioning: bool) -> int:
    """Threads the app may give thumbnail decoding: up to 4 (leaving a core for the GUI) while
    no run is going, one while the model captions, so that thumbnails never starve it."""
    return 1 if captioning else max(1, min(4, cpus - 1))


@dataclass
class Tuner:
    """Moves the thread count one step at a time towards the fastest, from batch times.

    Every `explore_every` batches one batch runs with a neighbouring count; the tuner keeps that
    count if its batch was `margin` faster per image than the batch before (and tries one more
    step the same way), and goes back otherwise (and tries the other way next time). Comparing
    neighbouring batches keeps a change of background load from counting as a change of
    thread count for longer than a batch.
    """

    limit: int  # most threads
    threads: int  # the count for the next batch
    explore_every: int = 6
    margin: float = 0.1
    cost: dict[int, float] = field(default_factory=dict)  # latest seconds per image, per count
    home: int | None = None  # during a trial batch: the count it is compared with
    batches_since_trial: int = 0
    direction: int = -1  # of the next trial: -1 fewer threads, +1 more

    def record(self, seconds: float, images: int) -> int:
        """The batch just run with `threads` took `seconds` for `images`; returns the count for
        the next batch."""
        if images < 1 or seconds <= 0:
            return self.threads
        n, cost = self.threads, seconds / images
        self.cost[n] = cost
        if self.home is not None:  # that was a trial
            home, self.home = self.home, None
            self.batches_since_trial = 0
            if cost < self.cost[home] * (1 - self.margin):
                self.batches_since_trial = self.explore_every - 1  # won: one more step that way
            else:
                self.threads = home
                self.direction = -self.direction
            return self.threads
        self.batches_since_trial += 1
        if self.batches_since_trial < self.explore_every:
            return n
        if not 1 <= n + self.direction <= self.limit:
            self.direction = -self.direction
        trial = n + self.direction
        if not 1 <= trial <= self.limit:  # a single thread allowed
            self.batches_since_trial = 0
            return n
        self.home, self.threads = n, trial
        return trial


class ThreadPolicy:
    """The thread count of one captioner, applied before each batch on the thread that runs the
    model (torch's count is per calling thread under OpenMP).

    `fixed` pins the count (`--threads N`, the app's setting); otherwise it starts at
    `thread_limit` and a `Tuner` adapts it. `reserve` is what the app keeps for itself.
    """

    def __init__(self, fixed: int | None = None, reserve: int = 0):
        if fixed is not None and fixed < 1:
            raise ValueError(f"threads must be at least 1, got {fixed}")
        self.fixed = fixed
        limit = thread_limit(usable_cpus(), reserve)
        self.tuner = Tuner(limit=limit, threads=limit)
        self._started: float | None = None

    @property
    def threads(self) -> int:
        return self.fixed or self.tuner.threads

    def set_fixed(self, threads: int | None) -> None:
        """Pin the count (None: back to automatic); takes effect at the next batch."""
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.fixed = threads

    def before_batch(self) -> int:
        """Set torch's thread count for this thread; returns it."""
        import torch

        threads = self.threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self._started = time.perf_counter()
        return threads

    def after_batch(self, images: int) -> None:
        """Report the batch begun by `before_batch`."""
        if self._started is None:
            return
        seconds, self._started = time.perf_counter() - self._started, None
        if self.fixed is None:
            self.tuner.record(seconds, images)
