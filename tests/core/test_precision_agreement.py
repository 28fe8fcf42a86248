"""benchmarks/precision_agreement.py on the demo bundle: kept from rotting, and its fp32 row
agrees with itself while every mode produces a row (the figures are for docs/performance.md)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_precision_agreement_prints_every_mode_on_the_demo_bundle():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "precision_agreement.py"), "--images", "8", "--batch", "4",
         "--tokens", "8", "--threads", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| mode")}
    assert set(rows) == {"fp32", "fp16-stored weights, fp32 compute", "int8 dynamic", "bf16 autocast"}
    assert rows["fp32"].endswith("| 100.0% | 100.0% |")
    assert "8 unseen synthetic images" in result.stdout
