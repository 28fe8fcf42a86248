import gc
import ipaddress
import os
import socket

# Qt tests run without a display; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tests.tiny import make_tiny_bundle

# "0" or "1": run as if this CPU had no native bf16 or had it (core.captioning.device.cpu_has_fast_bf16);
# unset: this CPU's own answer. See README, Development.
CPU_BF16 = "VISIONCAP_TEST_CPU_BF16"


def pytest_configure(config):
    if os.environ.get(CPU_BF16, "") not in ("", "0", "1"):
        raise pytest.UsageError(f"{CPU_BF16} must be 0 or 1, got {os.environ[CPU_BF16]!r}")


def pytest_report_header(config):
    forced = os.environ.get(CPU_BF16)
    if forced:
        return f"CPU bf16: forced {'on' if forced == '1' else 'off'} ({CPU_BF16}={forced})"
    from core.captioning.device import cpu_has_fast_bf16

    return f"CPU bf16: {'yes' if cpu_has_fast_bf16() else 'no'} (this CPU; {CPU_BF16}=0 or 1 forces it)"


@pytest.fixture(scope="session", autouse=True)
def visioncap_home(tmp_path_factory):
    """Nothing a test does reaches the real home folder (core's bundle verification cache
    included); the app's tests give each test its own home on top of this."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VISIONCAP_HOME", str(tmp_path_factory.mktemp("visioncap-home")))
        yield


@pytest.fixture(scope="session", autouse=True)
def cpu_bf16():
    """With VISIONCAP_TEST_CPU_BF16 set, every "auto" precision in this process decides as if
    the CPU had native bf16 (1) or had not (0). Session-wide, so that module fixtures see it too.
    Processes a test starts ask the real CPU."""
    forced = os.environ.get(CPU_BF16)
    if not forced:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("core.captioning.device.cpu_has_fast_bf16", lambda: forced == "1")
        yield


@pytest.fixture(autouse=True, scope="module")
def collect_leaks_per_module():
    """A file or socket left open in a reference cycle warns only when the collector frees it;
    collecting after each module reports it there (as an error of the module's last test: see
    filterwarnings in pyproject.toml) rather than in some later module or at the session's end."""
    yield
    gc.collect()


class NetworkUseError(OSError):
    """A test tried to reach another machine (an OSError, as being offline would be)."""


def _is_local(host) -> bool:
    if host is None or host in ("", "localhost", "localhost.localdomain", b"localhost"):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network():
    """Tests never use the network: connecting a socket to, or looking up, anything but this
    machine raises NetworkUseError, and the attempt fails the test even if the code under test
    swallowed the error. Unix sockets and loopback (multiprocessing, a local server) are allowed.
    Only this process is guarded: a subprocess a test starts is not (its sockets are its own)."""
    attempts: list[str] = []

    def refuse(what: str):
        attempts.append(what)
        raise NetworkUseError(f"tests never use the network: refused {what} (tests/conftest.py, no_network)")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo, real_create_connection = socket.getaddrinfo, socket.create_connection

    def allowed(sock, address) -> bool:
        return sock.family not in (socket.AF_INET, socket.AF_INET6) or _is_local(address[0])

    def connect(self, address):
        if not allowed(self, address):
            refuse(f"connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not allowed(self, address):
            refuse(f"connect_ex to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            refuse(f"looking up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        if not _is_local(address[0]):
            refuse(f"a connection to {address!r}")
        return real_create_connection(address, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket, "create_connection", create_connection)
        yield attempts
    if attempts:
        pytest.fail(f"the test tried to use the network: {'; '.join(attempts)}", pytrace=False)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A tiny random bundle (a few hundred KB), shared read-only by the whole test session."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")
