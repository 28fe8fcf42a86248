"""The rules the whole suite runs under (tests/conftest.py, pyproject.toml): no network, files and
sockets closed, and "auto" precision deciding as VISIONCAP_TEST_CPU_BF16 says."""

from __future__ import annotations

import os
import socket
import sys

import pytest
import torch

import core.captioning.device
from core.captioning.device import resolve_precision, resolve_training_precision
from tests.conftest import CPU_BF16, NetworkUseError

ELSEWHERE = "192.0.2.1"  # TEST-NET-1: never a real machine


def test_reaching_another_machine_is_refused_and_fails_the_test(no_network):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkUseError):
        sock.connect((ELSEWHERE, 80))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkUseError):
        sock.connect_ex((ELSEWHERE, 80))
    with pytest.raises(NetworkUseError, match=r"huggingface\.co"):
        socket.getaddrinfo("huggingface.co", 443)
    with pytest.raises(NetworkUseError):
        socket.create_connection(("huggingface.co", 443), timeout=1)
    # each attempt is kept, so that code which swallows the error still fails its test
    assert len(no_network) == 4 and "huggingface.co" in no_network[-1]
    no_network.clear()


def test_loopback_and_unix_sockets_are_allowed(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname(), timeout=10):
        server.accept()[0].close()
    assert socket.getaddrinfo("localhost", 80)
    if hasattr(socket, "AF_UNIX") and sys.platform != "win32":
        path = str(tmp_path / "s")
        with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
            server.bind(path)
            server.listen()
            client.connect(path)
            server.accept()[0].close()


def test_resource_warnings_are_errors(pytestconfig):
    filters = pytestconfig.getini("filterwarnings")
    assert "error::ResourceWarning" in filters
    assert "error::pytest.PytestUnraisableExceptionWarning" in filters  # a leak noticed in __del__


@pytest.mark.skipif(not os.environ.get(CPU_BF16), reason=f"{CPU_BF16} not set: the CPU's own answer")
def test_forced_cpu_bf16_decides_auto_precision():
    forced = os.environ[CPU_BF16] == "1"
    cpu = torch.device("cpu")
    assert core.captioning.device.cpu_has_fast_bf16() is forced
    for resolve in (resolve_precision, resolve_training_precision):
        assert resolve("auto", cpu) == ("bf16" if forced else "fp32")
