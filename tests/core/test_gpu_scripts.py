"""The GPU checks (benchmarks/cuda_inference_check.py, benchmarks/cuda_oom_check.py,
training/gpu_check.py) run only where a GPU is lent; here they are kept from rotting: the
inference table on tiny models on the CPU, and the clear exit without a CUDA device."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def test_inference_check_prints_a_row_per_mode_and_batch_on_tiny_models():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cuda_inference_check.py"), "--tiny", "--device", "cpu",
         "--batch-sizes", "1", "3", "--repeats", "1", "--precisions", "fp32", "bf16"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| HF generate", "| VisionCap"))]
    assert len(rows) == 8 and all(row.count("|") == 8 for row in rows), result.stdout  # 4 modes x 2 batch sizes
    fp32 = [row for row in rows if row.startswith("| VisionCap fp32")]
    assert all("| 100.0% |" in row for row in fp32)  # the same tokens as HF fp32 on the same weights
    assert result.stdout.rstrip().endswith("passed")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
def test_gpu_checks_say_so_and_exit_without_cuda():
    oom = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cuda_oom_check.py")],
                         capture_output=True, text=True, timeout=120)
    assert oom.returncode == 2 and "no CUDA device" in oom.stdout
    from training.gpu_check import main

    assert main(["--full-size"]) == 2
