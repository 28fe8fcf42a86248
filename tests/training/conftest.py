"""Fixtures of the training tests (helpers that build data and configs live in trainkit.py)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_threads():
    """Runs set torch's thread count for the whole process; put it back for other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
