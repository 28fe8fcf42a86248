import subprocess
import sys

import pytest
import torch

from core.threads import (
    ThreadPolicy,
    Tuner,
    configure_openmp,
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


def feed(tuner: Tuner, seconds_for) -> list[int]:
    """Run 30 batches of 8 images whose time depends on the thread count; the counts used."""
    used = []
    for _ in range(30):
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
        policy.set_fixed(None)
        assert policy.threads == policy.tuner.threads >= 1
        policy.before_batch()
        policy.after_batch(4)
        assert policy.tuner.cost  # automatic: the batch was recorded
        with pytest.raises(ValueError, match="at least 1"):
            policy.set_fixed(0)
    finally:
        torch.set_num_threads(before)


def test_configure_openmp_keeps_the_users_choice():
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not configure_openmp(env)  # torch is imported in this process: too late, no change
    assert env == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_importing_core_sets_the_wait_policy_before_torch():
    code = "import os, core.captioner; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_cli_threads_option(tiny_bundle, tmp_path, capsys):
    from PIL import Image

    from core.cli import main

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
