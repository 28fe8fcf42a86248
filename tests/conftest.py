import os

# Qt tests run without a display; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tests.tiny import make_tiny_bundle


@pytest.fixture(scope="session", autouse=True)
def visioncap_home(tmp_path_factory):
    """Nothing a test does reaches the real home folder (core's bundle verification cache
    included); the app's tests give each test its own home on top of this."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VISIONCAP_HOME", str(tmp_path_factory.mktemp("visioncap-home")))
        yield


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A tiny random bundle (a few hundred KB), shared read-only by the whole test session."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")
