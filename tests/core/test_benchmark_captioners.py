import subprocess
import sys
from pathlib import Path


def test_captioners_benchmark_runs_and_prints_its_table():
    """benchmarks/captioners.py on tiny models: every family on both paths, VisionGPT2 beside them."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "captioners.py"
    result = subprocess.run(
        [sys.executable, str(script), "--tiny", "--images", "2", "--batch-size", "2", "--repeats", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "threads" in lines[0] and "transformers" in lines[0]
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| model")]
    assert all(row.count("|") == 7 for row in rows), result.stdout
    for family in ("florence2", "blip", "git"):
        paths = [row.split("|")[4].strip() for row in rows if row.startswith(f"| {family} |")]
        assert paths == ["VisionCap", "transformers script"], result.stdout
    assert [row for row in rows if row.startswith("| visiongpt2 | ")], result.stdout
