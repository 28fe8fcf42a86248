"""How many CPU threads the model uses, and how its idle OpenMP threads wait.

On a busy desktop the CPU is shared: with torch's defaults (one thread per core, OpenMP threads
that spin while they wait) every parallel region waits for whichever of its threads the
scheduler has put aside, and a run can become several times slower than with one thread. Two
things fix that:

- `configure_openmp` asks OpenMP threads to sleep instead of spinning when they wait
  (OMP_WAIT_POLICY=PASSIVE; KMP_BLOCKTIME=0 for Intel's and LLVM's OpenMP). OpenMP reads these
  when torch loads it, so this must run before `import torch`: `core/__init__.py` calls it.
  A short spin first (GNU's GOMP_SPINCOUNT=30000, a tenth of its default) was measured and not
  taken: it made the full-size decode step 25-35% faster on an idle machine, and two threads
  2x slower than one beside a single busy process (README, Under load).
- `ThreadPolicy` starts with a thread per CPU, less a core for the app's own threads when there
  are several (`thread_limit`), or with one thread for a small model (`start_threads`), and
  during a run moves the count one step at a time when batch times say another count is
  faster (`Tuner`). A fixed count (`--threads N`, the app's setting) overrides it. It does
  not start lower under load: once waiting threads sleep, a thread per core was the fastest
  fixed count for the full-size model under every load benchmarks/under_load.py measured
  (each thread also wins its share of a busy CPU), and the load average is a minute late.

The decisions are plain functions of numbers (cores, batch times) so tests can feed them
any machine; `ThreadPolicy` is the small part that reads the machine and calls torch.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field

# What each OpenMP implementation reads: GNU (Linux wheels) and LLVM (macOS) honour
# OMP_WAIT_POLICY; GNU's GOMP_SPINCOUNT (spins before sleeping) overrides the policy's own count
# (0 for PASSIVE, 300,000 when unset); Intel's and LLVM's KMP_BLOCKTIME (milliseconds).
WAIT_POLICY = {"OMP_WAIT_POLICY": "PASSIVE"}
OPENMP_DEFAULTS = {**WAIT_POLICY, "KMP_BLOCKTIME": "0"}


def configure_openmp(environ: MutableMapping[str, str] | None = None) -> bool:
    """Let waiting OpenMP threads sleep, unless the user chose otherwise in the environment
    (OMP_WAIT_POLICY or GOMP_SPINCOUNT set: the waits are left to them).

    Returns False, changing nothing, once torch is imported: OpenMP has read its settings then.
    """
    if "torch" in sys.modules:
        return False
    environ = os.environ if environ is None else environ
    if not any(name in environ for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")):
        environ.update(WAIT_POLICY)
    environ.setdefault("KMP_BLOCKTIME", OPENMP_DEFAULTS["KMP_BLOCKTIME"])
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


SMALL_MODEL = 20_000_000  # parameters: below this a model starts at one thread


def start_threads(limit: int, parameters: int | None = None) -> int:
    """The count a run starts with: `limit`, or one thread for a small model. Its matrix
    products are so small (the demo's are 128-192 wide) that waking a second thread for each
    costs more than the thread saves: the 3.0M-parameter demo model captions 2-3x slower on two
    threads than on one, idle or loaded (benchmarks/under_load.py). The tuner still tries more."""
    return 1 if parameters is not None and parameters < SMALL_MODEL else limit


@dataclass
class Tuner:
    """Moves the thread count one step at a time towards the fastest, from batch times.

    A count's cost is the median seconds per image of its last `window` batches. Now and then
    a batch runs with a neighbouring count (a trial); the tuner moves there if that batch and
    the next (`confirm`: a single batch under load is often lucky) were each `margin` cheaper
    than the home count's cost (and tries one more step the same way), and goes back after the
    first batch that was not (and tries the other way next time). A trial that loses costs a slow
    batch, so the gap before the next one doubles after each loss, from `explore_every` up to
    `longest_gap` batches. It shrinks back to `explore_every` after a win, and the next trial
    comes at once when the load changes enough to turn the last verdict: when the home count's
    cost moves by `drift`, or by as much as the last trial lost by if that was more (a count
    that was 2.5x slower is not worth a slow batch each time the load moves by 30%).
    """

    limit: int  # most threads
    threads: int  # the count for the next batch
    explore_every: int = 6
    longest_gap: int = 48
    margin: float = 0.1
    confirm: int = 2  # batches in a row a trial must win to be kept
    drift: float = 0.25
    window: int = 3
    recent: dict[int, list[float]] = field(default_factory=dict)  # latest seconds per image, per count
    home: int | None = None  # during a trial: the count it is compared with
    trial_costs: list[float] = field(default_factory=list)  # the current trial's batches so far
    gap: int = 0  # batches from one trial to the next (explore_every when 0)
    batches_since_trial: int = 0
    direction: int = -1  # of the next trial: -1 fewer threads, +1 more
    reference: float | None = None  # the home cost the current gap was set against
    turn: float = 0.0  # how far (a factor) the home cost must move from `reference` to bring a trial

    @property
    def cost(self) -> dict[int, float]:
        """Each count's cost: the median of its recent batches."""
        return {n: statistics.median(costs) for n, costs in self.recent.items()}

    def _remember(self, n: int, cost: float) -> None:
        self.recent[n] = [*self.recent.get(n, []), cost][-self.window :]

    def record(self, seconds: float, images: int) -> int:
        """The batch just run with `threads` took `seconds` for `images`; returns the count for
        the next batch."""
        if images < 1 or seconds <= 0:
            return self.threads
        n, cost = self.threads, seconds / images
        self.gap = self.gap or self.explore_every
        if self.home is not None:
            return self._judge_trial(self.home, n, cost)
        self._remember(n, cost)
        self.batches_since_trial += 1
        if self._load_changed(n):
            self.gap, self.turn = self.explore_every, 1 + self.drift  # look around now
            self.batches_since_trial = self.gap
        if self.batches_since_trial < self.gap:
            return n
        if not 1 <= n + self.direction <= self.limit:
            self.direction = -self.direction
        trial = n + self.direction
        if not 1 <= trial <= self.limit:  # a single thread allowed
            self.batches_since_trial = 0
            return n
        self.home, self.threads = n, trial
        return trial

    def _judge_trial(self, home: int, n: int, cost: float) -> int:
        """A batch of the trial of count `n` (against the count `home`) cost `cost` per image:
        keep, confirm or go back."""
        won = cost < statistics.median(self.recent[home]) * (1 - self.margin)
        self.trial_costs.append(cost)
        if won and len(self.trial_costs) < self.confirm:
            return n  # looks better: one more batch to be sure it was not luck
        self.home, self.batches_since_trial = None, 0
        if won:  # stay, and one more step that way next
            self.recent[n], self.trial_costs = self.trial_costs, []
            self.gap, self.reference, self.turn = self.explore_every, None, 1 + self.drift
            self.batches_since_trial = self.gap - 1
        else:  # back, the other way next time, and not so soon
            self.threads, self.trial_costs = home, []
            self.direction = -self.direction
            self.gap = min(2 * self.gap, self.longest_gap)
            self.reference = statistics.median(self.recent[home])
            self.turn = max(1 + self.drift, cost / self.reference / (1 - self.margin))
        return self.threads

    def _load_changed(self, n: int) -> bool:
        """Whether the cost of the home count `n` moved from `reference` by the factor `turn`
        (and so might have turned the last trial's verdict); sets `reference` once there are
        `window` batches to take it from, and again when it moved."""
        if len(self.recent[n]) < self.window:
            return False  # too few batches to tell a change of load
        home_cost = statistics.median(self.recent[n])
        if self.reference is None:
            self.reference, self.turn = home_cost, self.turn or 1 + self.drift
            return False
        if 1 / self.turn < home_cost / self.reference < self.turn:
            return False
        self.reference = home_cost
        return True


class ThreadPolicy:
    """The thread count of one captioner, applied before each batch on the thread that runs the
    model (torch's count is per calling thread under OpenMP).

    `fixed` pins the count (`--threads N`, the app's setting); otherwise it starts at
    `start_threads` (`thread_limit`, or one for a small model of `parameters`) and a `Tuner`
    adapts it. `reserve` is what the app keeps for itself.

    A batch is timed from the start of its model work to the start of the next batch's, less
    the time the caller held the results (`away`): that includes waiting for the images the
    decoding thread prepared meanwhile, so a count that starves the decoder shows as slow. A
    run's last batch has no such successor and is not counted (`before_batch(last=True)`).
    """

    def __init__(self, fixed: int | None = None, reserve: int = 0, parameters: int | None = None):
        if fixed is not None and fixed < 1:
            raise ValueError(f"threads must be at least 1, got {fixed}")
        self.fixed = fixed
        limit = thread_limit(usable_cpus(), reserve)
        self.tuner = Tuner(limit=limit, threads=start_threads(limit, parameters))
        self._started: float | None = None  # the current batch's start
        self._finished: tuple[float, int] | None = None  # a batch awaiting its successor: (start, images)
        self._away = 0.0
        self._last = False

    @property
    def threads(self) -> int:
        return self.fixed or self.tuner.threads

    def set_fixed(self, threads: int | None) -> None:
        """Pin the count (None: back to automatic); takes effect at the next batch."""
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.fixed = threads

    def before_batch(self, last: bool = False) -> int:
        """Count the batch before (if this run had one), then set torch's thread count for this
        thread; returns it. `last`: no batch follows this one in the run, so it cannot be
        timed, and a trial waiting to begin waits for the next run."""
        import torch

        now = time.perf_counter()
        if self._finished is not None:
            started, images = self._finished
            self._finished = None
            if self.fixed is None:
                self.tuner.record(now - started - self._away, images)
        self._away = 0.0
        threads = self.threads
        if last and self.fixed is None and self.tuner.home is not None and not self.tuner.trial_costs:
            threads = self.tuner.home
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self._started, self._last = now, last
        return threads

    def after_batch(self, images: int) -> None:
        """The model finished the batch begun by `before_batch`."""
        if self._started is None:
            return
        started, self._started = self._started, None
        self._finished = None if self._last else (started, images)

    def away(self, seconds: float) -> None:
        """The caller held the results for `seconds`: not the pipeline's time."""
        self._away += seconds

    def end_run(self) -> None:
        """The run ended (or stopped early): forget a batch that has no successor."""
        self._started, self._finished, self._away = None, None, 0.0
