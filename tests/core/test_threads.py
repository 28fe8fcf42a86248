import itertools
import subprocess
import sys

import pytest
import torch

from core.captioning.threads import (
    SMALL_MODEL,
    ThreadPolicy,
    Tuner,
    configure_openmp,
    start_threads,
    thread_limit,
    thumbnail_threads,
)


@pytest.mark.parametrize(
    ("cpus", "reserve", "expected"),
    [
        (2, 0, 2),  # a thread per core
        (8, 1, 7),  # the app keeps a core for its GUI and thumbnails
        (2, 1, 2),  # ... unless that would leave one: two cores stay two
        (3, 1, 2),
        (1, 0, 1),
        (1, 1, 1),
    ],
)
def test_thread_limit(cpus, reserve, expected):
    assert thread_limit(cpus, reserve) == expected


def test_thread_limit_never_below_one():
    assert thread_limit(1, 4) == 1
    assert thread_limit(4, 1) == 3


def test_thumbnail_threads_shrink_to_one_during_a_run():
    assert thumbnail_threads(8, captioning=False) == 4
    assert thumbnail_threads(2, captioning=False) == 1
    assert thumbnail_threads(16, captioning=True) == 1
    assert thumbnail_threads(1, captioning=False) == 1


def feed(tuner: Tuner, seconds_for, batches: int = 30) -> list[int]:
    """Run batches of 8 images whose time depends on the thread count; the counts used."""
    used = []
    for _ in range(batches):
        used.append(tuner.threads)
        tuner.record(seconds_for(tuner.threads), 8)
    return used


def test_tuner_steps_down_when_fewer_threads_are_faster():
    tuner = Tuner(limit=4, threads=4)
    used = feed(tuner, {4: 4.0, 3: 2.0, 2: 1.0, 1: 1.5}.get)
    assert used[-10:].count(2) >= 8  # settles on the fastest count, trying neighbours rarely
    assert min(used) >= 1


def test_tuner_steps_up_when_more_threads_are_faster():
    tuner = Tuner(limit=4, threads=1)
    used = feed(tuner, {1: 4.0, 2: 2.2, 3: 1.6, 4: 1.2}.get)
    assert used[-1] == 4


def test_tuner_keeps_a_count_that_is_not_clearly_beaten():
    tuner = Tuner(limit=2, threads=2)
    used = feed(tuner, {2: 1.0, 1: 0.95}.get)  # 5% faster: within the margin, noise
    assert used.count(2) >= 25


def test_tuner_follows_a_change_of_load():
    """Two threads are best until other programs make one thread faster, then two again."""
    tuner = Tuner(limit=2, threads=2)
    busy = {2: 3.0, 1: 1.5}
    idle = {2: 1.0, 1: 1.8}
    used = feed(tuner, idle.get) + feed(tuner, busy.get) + feed(tuner, idle.get)
    assert used[20:30].count(2) >= 8
    assert used[50:60].count(1) >= 8
    assert used[80:90].count(2) >= 8


def trials(used: list[int], home: int) -> list[int]:
    """The batch numbers run with another count than `home`."""
    return [i for i, n in enumerate(used) if n != home]


def test_trials_that_keep_losing_come_less_and_less_often():
    """One thread is 2.8x faster (the demo model on two cores): every trial of two costs a slow
    batch, so the gap between trials doubles, up to longest_gap."""
    tuner = Tuner(limit=2, threads=1)
    used = feed(tuner, {1: 1.0, 2: 2.8}.get, batches=200)
    tried = trials(used, home=1)
    gaps = [b - a for a, b in itertools.pairwise(tried)]
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]
    assert max(gaps) <= tuner.longest_gap + 1
    assert len(tried) <= 6  # 200 batches: 6 + 12 + 24 + 48 + 48 + 48 ...
    assert sum(used) / len(used) < 1.05  # the trials cost under 5% of the batches


def test_a_change_of_load_brings_the_next_trial_at_once():
    """After long quiet stretches the gap is long; when the home count's batches become slower
    by more than the last trial lost by, the tuner looks around within a window of batches
    instead of waiting the gap."""
    tuner = Tuner(limit=2, threads=1)
    feed(tuner, {1: 1.0, 2: 2.8}.get, batches=100)
    assert tuner.gap == tuner.longest_gap
    used = feed(tuner, {1: 3.5, 2: 0.9}.get, batches=tuner.window + 3)
    assert used.index(2) <= tuner.window  # the median of the window moved: a trial at once
    assert tuner.threads == 2  # it won


def test_a_change_smaller_than_the_last_loss_waits_for_the_gap():
    """Two threads lost 2.8x; one thread's batches becoming 50% slower cannot have turned that,
    so the next trial waits for the gap, as a change of 30% after a close call would not."""
    tuner = Tuner(limit=2, threads=1)
    feed(tuner, {1: 1.0, 2: 2.8}.get, batches=100)
    used = feed(tuner, {1: 1.5, 2: 2.8}.get, batches=8)
    assert trials(used, home=1) == []
    close = Tuner(limit=2, threads=1)
    feed(close, {1: 1.0, 2: 1.05}.get, batches=100)
    used = feed(close, {1: 1.3, 2: 1.05}.get, batches=close.window + 1)
    assert trials(used, home=1) != []


def test_noise_within_the_drift_does_not_restart_the_trials():
    tuner = Tuner(limit=2, threads=1)
    feed(tuner, {1: 1.0, 2: 2.8}.get, batches=100)
    noisy = iter([1.0, 1.15, 0.9, 1.1, 0.95, 1.2, 0.85, 1.05] * 3)
    used = feed(tuner, lambda n: next(noisy) if n == 1 else 2.8, batches=24)
    assert len(trials(used, home=1)) <= 1


def test_one_lucky_trial_batch_does_not_move_the_count():
    """Under load single batches are noisy: a trial is kept only when its second batch also wins."""
    tuner = Tuner(limit=2, threads=1, explore_every=2)
    tuner.record(1.0, 8)
    assert tuner.record(1.0, 8) == 2  # a trial of two threads
    assert tuner.record(0.5, 8) == 2  # a lucky batch: once more ...
    assert tuner.record(1.2, 8) == 1  # ... which was slower: back to one thread
    assert tuner.recent[1] == [1.0 / 8] * 2  # the home count's costs (per image) are untouched
    lucky = Tuner(limit=2, threads=1, explore_every=2)
    lucky.record(1.0, 8)
    lucky.record(1.0, 8)
    lucky.record(0.5, 8)
    assert lucky.record(0.6, 8) != 1 and lucky.home is None  # won twice: two threads kept
    assert lucky.recent[2] == [0.5 / 8, 0.6 / 8]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_trial_never_begins_on_a_runs_last_batch(monkeypatch):
    """The last batch of a run cannot be timed (nothing follows it): a trial due then runs the
    home count and waits for the next run, whose first batch is the trial."""
    monkeypatch.setattr("core.captioning.threads.usable_cpus", lambda: 2)
    clock = Clock()
    monkeypatch.setattr("core.captioning.threads.time.perf_counter", clock)
    before = torch.get_num_threads()
    try:
        policy = ThreadPolicy(parameters=1000)  # small: starts at one thread
        policy.tuner.explore_every = 1
        assert policy.before_batch() == 1
        clock.now = 1.0
        policy.after_batch(4)
        assert policy.before_batch(last=True) == 1  # a trial of two is due, but this is the last
        assert policy.tuner.home == 1 and policy.threads == 2
        clock.now = 2.0
        policy.after_batch(4)
        policy.end_run()
        clock.now = 10.0
        assert policy.before_batch() == 2  # the next run begins with the trial ...
        clock.now = 10.5
        policy.after_batch(4)
        policy.before_batch()
        assert policy.tuner.trial_costs == [0.5 / 4]  # ... and times it (faster: once more to confirm)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("limit", "parameters", "expected"),
    [(2, 2_000_000, 1), (8, SMALL_MODEL - 1, 1), (8, 239_000_000, 8), (8, None, 8), (1, 239_000_000, 1)],
)
def test_small_models_start_at_one_thread(limit, parameters, expected):
    assert start_threads(limit, parameters) == expected


def test_policy_times_a_batch_until_the_next_one_less_the_callers_time(monkeypatch):
    """A batch counts from its model's start to the next batch's start (so waiting for the
    decoding thread counts), less the time the caller held the results; the run's last batch,
    with no successor, is not counted."""
    clock = Clock()
    monkeypatch.setattr("core.captioning.threads.time.perf_counter", clock)
    before = torch.get_num_threads()
    try:
        policy = ThreadPolicy(parameters=1000)
        policy.before_batch()
        clock.now = 1.0
        policy.after_batch(4)
        clock.now = 6.0
        policy.away(5.0)  # the caller took 5 s over the results
        clock.now = 7.0  # then the next batch's images took 1 s more to decode
        assert policy.tuner.cost == {}
        policy.before_batch()
        assert policy.tuner.cost == {1: pytest.approx((7.0 - 5.0) / 4)}
        policy.after_batch(4)
        policy.before_batch(last=True)
        clock.now = 8.0
        policy.after_batch(4)
        policy.end_run()
        policy.before_batch()  # a new run: nothing left over from the last
        assert policy.tuner.recent[1] == [pytest.approx(0.5)]
    finally:
        torch.set_num_threads(before)


def test_tuner_goes_back_when_the_trial_loses():
    tuner = Tuner(limit=2, threads=2, explore_every=2)
    tuner.record(1.0, 8)
    assert tuner.record(1.0, 8) == 1  # exploration
    assert tuner.record(2.0, 8) == 2  # one thread was slower: back to two


def test_tuner_ignores_empty_batches():
    tuner = Tuner(limit=2, threads=2)
    assert tuner.record(0.5, 0) == 2
    assert tuner.cost == {}


def test_single_cpu_never_explores_out_of_range():
    tuner = Tuner(limit=1, threads=1, explore_every=1)
    assert feed(tuner, lambda n: 1.0) == [1] * 30


def test_policy_sets_torch_threads_and_fixed_overrides():
    before = torch.get_num_threads()
    try:
        policy = ThreadPolicy(fixed=1)
        assert policy.before_batch() == 1 and torch.get_num_threads() == 1
        policy.after_batch(4)
        assert policy.tuner.cost == {}  # a fixed count is not tuned
        policy.before_batch()  # ... nor is the batch before this one
        assert policy.tuner.cost == {}
        policy.set_fixed(None)
        assert policy.threads == policy.tuner.threads >= 1
        policy.before_batch()
        policy.after_batch(4)
        policy.before_batch()
        assert policy.tuner.cost  # automatic: the batch was recorded when the next began
        with pytest.raises(ValueError, match="at least 1"):
            policy.set_fixed(0)
    finally:
        torch.set_num_threads(before)


def test_configure_openmp_in_a_fresh_environment_and_beside_a_users_choice(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")  # as before torch is imported
    env = {}
    assert configure_openmp(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "30000"}):
        env = dict(chosen)
        assert configure_openmp(env)
        assert env == {**chosen, "KMP_BLOCKTIME": "0"}  # the user chose how threads wait: left alone


def test_configure_openmp_keeps_the_users_choice():
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not configure_openmp(env)  # torch is imported in this process: too late, no change
    assert env == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_importing_core_sets_the_wait_policy_before_torch():
    code = "import os, core.captioning.captioner; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_cli_threads_option(tiny_bundle, tmp_path, capsys):
    from PIL import Image

    from core.cli.main import main

    image = tmp_path / "a.png"
    Image.new("RGB", (40, 40), "red").save(image)
    with pytest.raises(SystemExit) as exit_info:
        main(["caption", str(image), "--model", str(tiny_bundle), "--threads", "0"])
    assert exit_info.value.code == 2 and "--threads must be at least 1" in capsys.readouterr().err
    before = torch.get_num_threads()
    try:
        assert main(["caption", str(image), "--model", str(tiny_bundle), "--threads", "1",
                     "--out", str(tmp_path / "out.csv")]) == 0
        assert torch.get_num_threads() == 1  # the batch ran on this thread with one thread
    finally:
        torch.set_num_threads(before)
