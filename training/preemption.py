"""Stopping on a signal without losing work: what a preemptible cluster needs.

SLURM and Kubernetes send SIGTERM before they kill a job (SLURM can be asked for SIGUSR1 a
while earlier: `#SBATCH --signal=USR1@120`), a terminal sends SIGINT on Ctrl-C. While a run
trains, the first of these only sets a flag: the loop sees it at the next step boundary (all
processes agree on it there), saves a checkpoint from which the run resumes bit-exactly, says
where and how to resume, and exits with EXIT_PREEMPTED. A second signal stops at once without a
checkpoint (the newest earlier one stays in charge: checkpoints are written atomically). A
repeat within `SignalStop.repeat_window_s` of the first is the same request, not a second one:
a terminal's Ctrl-C reaches torchrun's workers twice, directly and passed on by torchrun, and
SLURM signals every process of a job step, torchrun's workers and torchrun itself alike.

Outside the training loop (reading the data, building the model) there is nothing to save, so a
signal stops at once there too.

Windows has no SIGUSR1, and SIGTERM cannot be sent to a process there the way it is on POSIX;
the signals that the platform lacks are simply not handled (Ctrl-C and Ctrl-Break are).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# sysexits.h EX_TEMPFAIL, "try again later": stopped by a signal with a checkpoint saved, so the
# same run can go on (--resume). A scheduler can tell it from a crash (1) or a bad argument (2).
EXIT_PREEMPTED = 75
# Handled where the platform has them; SIGBREAK is Windows' Ctrl-Break.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGBREAK")
                     if hasattr(signal, name))


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(KeyboardInterrupt):
    """A stop signal that could not wait for a step boundary (a second one, or one outside the
    training loop). `exit_code` follows the shell's convention for death by a signal: 128 + N."""

    def __init__(self, signum: int):
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalStop:
    """A context that handles STOP_SIGNALS while it is entered (from the main thread only; on
    another thread it handles nothing, since Python delivers signals to the main thread).

    Inside `deferred()` the first signal sets `requested` and returns; any other signal raises
    Interrupted. A forked DataLoader worker inherits the handler and ignores the signals: the
    main process decides when its workers end.
    """

    repeat_window_s = 2.0  # a signal this soon after the first is the same request

    def __init__(self, announce: bool = True, clock: Callable[[], float] = time.monotonic):
        self.announce = announce  # say on stderr that the signal was received (rank 0 only)
        self.clock = clock
        self.requested: int | None = None
        self._requested_at = 0.0
        self._deferring = False
        self._previous: dict[int, object] = {}
        self._pid = os.getpid()

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            self._pid = os.getpid()
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """While inside, the first signal waits for the next step boundary."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    @property
    def name(self) -> str | None:
        return None if self.requested is None else signal_name(self.requested)

    def _handle(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:
            return
        if self.requested is not None and self.clock() - self._requested_at < self.repeat_window_s:
            return
        if self._deferring and self.requested is None:
            self.requested, self._requested_at = signum, self.clock()
            if self.announce:
                # os.write: a signal handler may interrupt a logging call that holds its lock
                os.write(2, f"{signal_name(signum)}: saving a checkpoint at the next step boundary, then "
                            f"stopping; send it again to stop at once without one\n".encode())
            return
        raise Interrupted(signum)


def resume_command(out: str | Path, world_size: int = 1) -> str:
    """The command that continues the run in `out` (under torchrun when it ran under it)."""
    tail = ["-m", "training", "train", "--resume", "--out", str(out)]
    if world_size <= 1:
        return shlex.join(["python", *tail])
    nproc = os.environ.get("LOCAL_WORLD_SIZE", str(world_size))
    if nproc == str(world_size):
        return shlex.join(["torchrun", "--nproc-per-node", nproc, *tail])
    return "torchrun <this job's --nnodes/--rdzv options> " + shlex.join(["--nproc-per-node", nproc, *tail])
