"""Device and precision names: one vocabulary for captioning and training, two "auto" policies."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from core.device import PRECISIONS, resolve_device, resolve_precision, resolve_training_precision
from core.generation_settings import GenerationSettings

CPU = torch.device("cpu")


def test_names_import_without_torch():
    code = "import sys, core.device, core.generation_settings; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("resolve", [resolve_precision, resolve_training_precision])
def test_both_policies_share_the_names(resolve):
    for name in PRECISIONS[1:]:
        assert resolve(name, CPU) == name
    assert resolve("auto", CPU) in ("fp32", "bf16")  # on a CPU, the same rule for both
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve("int3", CPU)


def test_auto_device_and_cuda_without_cuda():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == CPU
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


def test_generation_settings_are_checked_when_built():
    with pytest.raises(ValueError, match="top_p"):
        GenerationSettings(top_p=0.0)
    with pytest.raises(ValueError, match="strategy"):
        GenerationSettings.from_dict({"strategy": "nucleus"})
