"""What verifying a bundle's SHA-256 costs at load, the first time and when remembered.

    python benchmarks/bundle_verify.py [--mb 1000]

Writes a file of MB random megabytes (the public ViT-GPT2 COCO captioner's weights are about
1 GB) and a verification cache under a temporary VISIONCAP_HOME, then times
`core.bundles.verification.verify_files` three ways: the first load (hashes the file), a later load
(the cache has it), and a load after the file changed (hashes it again). The machine may be
shared: repeat and compare within one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="size of the weights file in MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="visioncap-verify-") as tmp:
        os.environ["VISIONCAP_HOME"] = str(Path(tmp) / "home")
        from core.bundles.verification import sha256_file, verify_files

        weights = Path(tmp) / "model.safetensors"
        with open(weights, "wb") as f:
            for _ in range(args.mb):
                f.write(os.urandom(1 << 20))
        expected = {weights: sha256_file(weights)}  # also warms the page cache, as a load would
        rows = []
        for label in ("first load (hashes the file)", "later load (remembered)", "after the file changed"):
            if label.startswith("after"):
                os.utime(weights)  # a new modification time, as any write gives
            start = time.perf_counter()
            assert verify_files(expected) is None
            rows.append((label, time.perf_counter() - start))
    print(f"| verifying a {args.mb:,} MB weights file | seconds | MB/s |")
    print("|---|---|---|")
    for label, seconds in rows:
        speed = "not hashed" if label.startswith("later") else f"{args.mb / seconds:,.0f}"
        print(f"| {label} | {seconds:.4f} | {speed} |")


if __name__ == "__main__":
    main()
