"""Device and precision names: one vocabulary for captioning and training, two "auto" policies.

No GPU is needed: `machine` fakes what PyTorch reports about CUDA (and ROCm), MPS and XPU by
replacing torch's own functions (torch.accelerator, torch.cuda, torch.backends.mps, torch.xpu,
torch.version.hip), so every backend's logic runs on this CPU.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

import core.captioning.device
from core.captioning.device import (
    PRECISIONS,
    DeviceInventory,
    device_inventory,
    device_name,
    resolve_device,
    resolve_precision,
    resolve_training_precision,
)
from core.captioning.generation_settings import GenerationSettings

CPU = torch.device("cpu")
CUDA, MPS, XPU = torch.device("cuda"), torch.device("mps"), torch.device("xpu")


@pytest.fixture
def machine(monkeypatch):
    """machine(...) makes PyTorch report the GPUs given; everything else is absent.

    cuda, xpu: how many devices; mps: whether there is one. hip: the ROCm version (a ROCm build).
    accelerator_api: False for a PyTorch older than 2.6, without torch.accelerator. cuda_bf16 /
    xpu_bf16: what is_bf16_supported() says (None leaves torch's own, which says True on ROCm).
    macos: the macOS version MPS runs on. version: torch.__version__.
    """

    def fake(cuda=0, mps=False, xpu=0, hip=None, accelerator_api=True, names=None, cuda_bf16=True,
             xpu_bf16=True, macos=(15, 0), mps_name="Apple M2", version=None):
        names = names or {}
        monkeypatch.setattr(torch.version, "hip", hip)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name",
                            lambda device=None: names.get("cuda", "NVIDIA GeForce RTX 4070"))
        if cuda_bf16 is not None:
            monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: cuda_bf16)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer",
                            lambda major, minor: macos >= (major, minor), raising=False)
        if mps_name is None:
            monkeypatch.delattr(torch.backends.mps, "get_name", raising=False)
        else:
            monkeypatch.setattr(torch.backends.mps, "get_name", lambda: mps_name, raising=False)
        monkeypatch.setattr(torch.xpu, "is_available", lambda: xpu > 0)
        monkeypatch.setattr(torch.xpu, "device_count", lambda: xpu)
        monkeypatch.setattr(torch.xpu, "get_device_name",
                            lambda device=None: names.get("xpu", "Intel(R) Arc(TM) A770 Graphics"))
        monkeypatch.setattr(torch.xpu, "is_bf16_supported", lambda *args, **kwargs: xpu_bf16)
        if version is not None:
            monkeypatch.setattr(torch, "__version__", version)
        present = next((kind for kind, n in (("cuda", cuda), ("mps", mps), ("xpu", xpu)) if n), None)
        if accelerator_api:
            # a build has one accelerator: the one present (a CUDA build when none is)
            monkeypatch.setattr(torch.accelerator, "is_available", lambda: present is not None)
            monkeypatch.setattr(torch.accelerator, "current_accelerator",
                                lambda check_available=False: torch.device(present or "cuda"))
        else:
            monkeypatch.delattr(torch, "accelerator")

    return fake


def test_names_import_without_torch():
    code = "import sys, core.captioning.device, core.captioning.generation_settings; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("resolve", [resolve_precision, resolve_training_precision])
def test_both_policies_share_the_names(resolve):
    for name in PRECISIONS[1:]:
        assert resolve(name, CPU) == name
    assert resolve("auto", CPU) in ("fp32", "bf16")  # on a CPU, the same rule for both
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve("int3", CPU)


def test_this_machine_without_fakes():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == CPU
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


# --- which device ------------------------------------------------------------------------------


@pytest.mark.parametrize("accelerator_api", [True, False], ids=["torch.accelerator", "before 2.6"])
@pytest.mark.parametrize(("present", "picked"), [
    ({}, "cpu"), ({"cuda": 1}, "cuda"), ({"cuda": 1, "hip": "6.2"}, "cuda"), ({"mps": True}, "mps"),
    ({"xpu": 2}, "xpu"),
])
def test_auto_takes_the_accelerator_torch_reports(machine, accelerator_api, present, picked):
    machine(accelerator_api=accelerator_api, **present)
    assert resolve_device("auto") == torch.device(picked)


def test_auto_follows_torch_accelerator_and_leaves_unknown_ones_alone(machine, monkeypatch):
    machine(cuda=1, xpu=1)  # as torch.accelerator reports: the build's own accelerator wins
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: XPU)
    assert resolve_device("auto") == XPU
    monkeypatch.setattr(torch.accelerator, "current_accelerator",
                        lambda check_available=False: SimpleNamespace(type="mtia"))
    assert resolve_device("auto") == CPU  # an accelerator VisionCap does not know: the CPU


@pytest.mark.parametrize(("asked", "present"), [
    ("cpu", {}), ("cuda", {"cuda": 1}), ("cuda:1", {"cuda": 2}), ("cuda:0", {"cuda": 1, "hip": "6.2"}),
    ("mps", {"mps": True}), ("xpu", {"xpu": 1}), ("xpu:1", {"xpu": 2}),
])
def test_an_explicit_device_that_is_there(machine, asked, present):
    machine(**present)
    assert resolve_device(asked) == torch.device(asked)


@pytest.mark.parametrize(("asked", "present", "message"), [
    ("cuda", {"mps": True}, "cuda was requested but this PyTorch build or machine has no CUDA device"),
    ("cuda", {"hip": "6.2"}, "cuda was requested but this PyTorch build or machine has no ROCm device"),
    ("cuda:2", {"cuda": 2}, "cuda:2 was requested but this machine has 2 CUDA device(s), the last cuda:1"),
    ("mps", {"cuda": 1}, "mps was requested but this PyTorch build or machine has no MPS device"),
    ("mps:1", {"mps": True}, "mps:1 was requested but this machine has 1 MPS device(s), the last mps:0"),
    ("xpu:0", {}, "xpu:0 was requested but this PyTorch build or machine has no XPU device"),
    ("gpu", {"cuda": 1}, "unknown device 'gpu': use auto, cpu, cuda, cuda:N, mps, xpu or xpu:N"),
    ("meta", {}, "meta is not a device VisionCap runs on"),
])
def test_a_device_that_is_not_there_is_an_error_naming_it(machine, asked, present, message):
    machine(**present)
    with pytest.raises(ValueError) as error:
        resolve_device(asked)
    assert str(error.value).startswith(message)


# --- what the device is called -----------------------------------------------------------------


@pytest.mark.parametrize(("device", "present", "name"), [
    ("cuda", {"cuda": 1}, "NVIDIA GeForce RTX 4070 (CUDA)"),
    ("cuda:1", {"cuda": 2, "names": {"cuda": "NVIDIA RTX A6000"}}, "NVIDIA RTX A6000 (CUDA 1)"),
    ("cuda", {"cuda": 1, "hip": "6.2", "names": {"cuda": "AMD Radeon RX 7900 XTX"}}, "AMD Radeon RX 7900 XTX (ROCm)"),
    ("mps", {"mps": True}, "Apple M2 GPU (MPS)"),
    ("mps", {"mps": True, "mps_name": None}, "Apple GPU (MPS)"),  # a PyTorch without get_name
    ("xpu", {"xpu": 1}, "Intel(R) Arc(TM) A770 Graphics (XPU)"),
    ("xpu:0", {"xpu": 1}, "Intel(R) Arc(TM) A770 Graphics (XPU)"),
])
def test_device_names(machine, device, present, name):
    machine(**present)
    assert device_name(device) == name
    assert device_name(torch.device(device)) == name


def test_a_name_torch_cannot_give_falls_back_to_the_vendor(machine, monkeypatch):
    machine(cuda=1)

    def broken(device=None):
        raise RuntimeError("driver too old")

    monkeypatch.setattr(torch.cuda, "get_device_name", broken)
    assert device_name("cuda") == "NVIDIA GPU (CUDA)"
    monkeypatch.setattr(torch.version, "hip", "6.2")
    assert device_name("cuda") == "AMD GPU (ROCm)"
    assert device_name("no such device") == "no such device"


@pytest.mark.parametrize(("capability", "bf16", "name"), [
    ("AVX2", False, "CPU (AVX2)"), ("AVX512", True, "CPU (AVX-512, bf16)"), ("DEFAULT", False, "CPU"),
    ("SVE256", False, "CPU (SVE)"),
])
def test_cpu_names(monkeypatch, capability, bf16, name):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(core.captioning.device, "cpu_has_fast_bf16", lambda: bf16)
    assert device_name("cpu") == device_name(CPU) == name


def test_the_inventory_lists_what_is_present(machine, monkeypatch):
    monkeypatch.setattr(core.captioning.device, "cpu_name", lambda: "CPU (AVX2)")
    machine(mps=True)
    assert device_inventory() == DeviceInventory({"cpu": "CPU (AVX2)", "mps": "Apple M2 GPU (MPS)"}, "mps")
    machine()
    assert device_inventory() == DeviceInventory({"cpu": "CPU (AVX2)"}, "cpu")


# --- in what precision -------------------------------------------------------------------------


@pytest.mark.parametrize(("device", "present", "captioning", "training"), [
    (CUDA, {"cuda": 1, "cuda_bf16": True}, "fp16", "bf16"),
    (CUDA, {"cuda": 1, "cuda_bf16": False}, "fp16", "fp16"),  # pre-Ampere: fp16 with a GradScaler
    (CUDA, {"cuda": 1, "hip": "6.2", "cuda_bf16": None}, "fp16", "bf16"),  # torch: bf16 on every ROCm GPU
    (MPS, {"mps": True}, "fp16", "fp32"),
    (MPS, {"mps": True, "version": "2.4.1"}, "fp32", "fp32"),  # no MPS autocast yet
    (XPU, {"xpu": 1, "xpu_bf16": True}, "bf16", "bf16"),
    (XPU, {"xpu": 1, "xpu_bf16": False}, "fp16", "fp16"),
])
def test_auto_precision_per_device(machine, device, present, captioning, training):
    machine(**present)
    assert resolve_precision("auto", device) == captioning
    assert resolve_training_precision("auto", device) == training


@pytest.mark.parametrize(("device", "present", "precision", "problem"), [
    (CUDA, {"cuda": 1, "cuda_bf16": False}, "bf16", "this CUDA device does not support bf16"),
    (XPU, {"xpu": 1, "xpu_bf16": False}, "bf16", "this XPU device does not support bf16"),
    (MPS, {"mps": True, "macos": (13, 6)}, "bf16", "needs PyTorch 2.6 or newer and macOS 14"),
    (MPS, {"mps": True, "version": "2.5.1"}, "bf16", "needs PyTorch 2.6 or newer and macOS 14"),
    (MPS, {"mps": True, "version": "2.4.1"}, "fp16", "fp16 on MPS needs PyTorch 2.5 or newer"),
])
@pytest.mark.parametrize("resolve", [resolve_precision, resolve_training_precision])
def test_an_explicit_precision_the_device_lacks_is_an_error(machine, resolve, device, present, precision, problem):
    machine(**present)
    with pytest.raises(ValueError, match=f"{precision} was requested on {device.type}, but .*{problem}"):
        resolve(precision, device)
    assert resolve("fp32", device) == "fp32"


def test_mps_training_precisions(machine):
    machine(mps=True, version="2.7.1")
    assert resolve_precision("fp16", MPS) == "fp16"
    with pytest.raises(ValueError, match=r"fp16 training on MPS needs PyTorch 2\.8 or newer"):
        resolve_training_precision("fp16", MPS)
    machine(mps=True, version="2.10.0")  # compared as versions, not as text
    assert resolve_training_precision("fp16", MPS) == "fp16"
    assert resolve_training_precision("bf16", MPS) == "bf16"


def test_generation_settings_are_checked_when_built():
    with pytest.raises(ValueError, match="top_p"):
        GenerationSettings(top_p=0.0)
    with pytest.raises(ValueError, match="strategy"):
        GenerationSettings.from_dict({"strategy": "nucleus"})
