"""Run the release workflow's Linux job on this Linux machine, step by step, as the runner would.

    python packaging/run_linux_job.py                        # the cpu entry of the job's matrix
    python packaging/run_linux_job.py --variant cuda
    python packaging/run_linux_job.py --skip "Install torch" --set TORCH_BUILD=any

It reads the `linux` job of .github/workflows/release.yml, so it runs what the workflow says and
cannot drift from it. The `uses:` steps are stood in for: actions/checkout by the committed tree
(`git archive HEAD`, so uncommitted edits stay out, as on the runner) in a work folder,
actions/setup-python by a virtual environment of this Python (with its site packages, so
`pip install -e` touches only the work folder), actions/upload-artifact by listing the files it
would upload. Each `run:` step runs with bash -eo pipefail in the work folder with the job's and
the step's environment (`${{ matrix.KEY }}` filled in from the chosen matrix entry). As root
without sudo, `sudo` runs the command itself. "Free disk space" is skipped unless named with
--run-all: it deletes the runner's preinstalled SDKs.

Prints each step with its exit status and time, and a summary; exits with the first failing
step's status. --skip and --set are printed at the top: a run that needed them says so.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
JOB = "linux"
SKIPPED_BY_DEFAULT = {"Free disk space": "deletes the runner's preinstalled SDKs; not on a developer's machine"}
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


class JobError(Exception):
    """A problem with the workflow or the options, reported in one line."""


def load_job(path: Path = WORKFLOW, job: str = JOB) -> dict:
    try:
        import yaml
    except ImportError as exc:
        raise JobError("reading the workflow needs PyYAML (pip install pyyaml)") from exc
    try:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        return workflow["jobs"][job]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise JobError(f"{path}: no job {job!r} ({exc})") from exc


def matrix_entry(job: dict, variant: str) -> dict[str, str]:
    entries = job.get("strategy", {}).get("matrix", {}).get("include", [])
    for entry in entries:
        if entry.get("variant") == variant:
            return {key: str(value) for key, value in entry.items()}
    raise JobError(f"the {JOB} job's matrix has no variant {variant!r} "
                   f"(it has {', '.join(str(e.get('variant')) for e in entries) or 'none'})")


def substitute(value: str, matrix: dict[str, str]) -> str:
    """Fill in `${{ matrix.KEY }}`; any other expression is refused (the Linux job has none in
    what this runs, and guessing one would run something else than the runner does)."""
    def replace(match: re.Match) -> str:
        expression = match.group(1)
        if expression.startswith("matrix.") and expression[len("matrix."):] in matrix:
            return matrix[expression[len("matrix."):]]
        raise JobError(f"{WORKFLOW.name}: cannot evaluate ${{{{ {expression} }}}} locally")
    return EXPRESSION.sub(replace, str(value))


def environment(job: dict, step: dict, matrix: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    env = {key: substitute(value, matrix) for key, value in job.get("env", {}).items()}
    env.update({key: substitute(value, matrix) for key, value in step.get("env", {}).items()})
    env.update(overrides)
    return env


def checkout(work: Path) -> None:
    """actions/checkout: the committed tree of this repository."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    print(f"checked out {commit} (git archive HEAD) into {work}")


def setup_python(work: Path) -> Path:
    """actions/setup-python: a virtual environment of this Python that sees its packages."""
    venv = work / ".venv-job"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    print(f"python: {sys.version.split()[0]} in {venv} (with this Python's site packages)")
    return venv / "bin"


def sudo_shim(folder: Path) -> Path | None:
    """As root without sudo (a container), a `sudo` that runs its command."""
    if shutil.which("sudo") or os.geteuid() != 0:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "sudo"
    shim.write_text('#!/bin/sh\nexec "$@"\n')
    shim.chmod(0o755)
    return folder


def list_uploads(step: dict, matrix: dict[str, str], work: Path) -> None:
    """actions/upload-artifact: what it would upload."""
    name = substitute(step.get("with", {}).get("name", ""), matrix)
    patterns = [p.strip() for p in str(step.get("with", {}).get("path", "")).splitlines() if p.strip()]
    files = sorted({f for pattern in patterns for f in glob.glob(str(work / pattern))})
    if not files:
        raise JobError(f"upload {name}: no file matches {', '.join(patterns)}")
    print(f"artifact {name}:")
    for file in files:
        print(f"    {Path(file).relative_to(work)}  {os.path.getsize(file) / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python packaging/run_linux_job.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="cpu", help="the matrix entry to run (default: cpu)")
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder (default: a new one under $TMPDIR, kept: it holds the build)")
    parser.add_argument("--skip", action="append", default=[], metavar="STEP",
                        help="skip the step whose name starts with STEP (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override an environment variable of every step (repeatable)")
    parser.add_argument("--run-all", action="store_true", help="also run the steps skipped by default")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("run_linux_job.py: runs the Linux job, on Linux", file=sys.stderr)
        return 2
    try:
        overrides = dict(item.split("=", 1) for item in args.set)
    except ValueError:
        print(f"run_linux_job.py: --set takes NAME=VALUE, got {args.set}", file=sys.stderr)
        return 2
    skips = {} if args.run_all else dict(SKIPPED_BY_DEFAULT)
    skips.update({name: "--skip" for name in args.skip})
    try:
        job = load_job()
        matrix = matrix_entry(job, args.variant)
        work = args.work or Path(tempfile.mkdtemp(prefix="visioncap-linux-job-"))
        work.mkdir(parents=True, exist_ok=True)
        print(f"job {JOB} ({args.variant}) of {WORKFLOW.relative_to(ROOT)}; matrix {matrix}")
        for name, why in skips.items():
            print(f"skipping steps named {name!r}: {why}")
        for name, value in overrides.items():
            print(f"setting {name}={value} in every step")
        path = os.environ.get("PATH", "")
        shim = sudo_shim(work / ".job-bin")
        if shim:
            path = f"{shim}:{path}"
        results: list[tuple[str, str, float]] = []
        started_job = time.monotonic()
        for number, step in enumerate(job["steps"], 1):
            name = step.get("name") or step.get("uses") or f"step {number}"
            print(f"\n=== {number}. {name}", flush=True)
            started = time.monotonic()
            if any(name.startswith(prefix) for prefix in skips):
                results.append((name, "skipped", 0.0))
                print("skipped")
                continue
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                checkout(work)
            elif uses.startswith("actions/setup-python@"):
                path = f"{setup_python(work)}:{path}"
            elif uses.startswith("actions/upload-artifact@"):
                list_uploads(step, matrix, work)
            elif uses:
                raise JobError(f"step {name!r}: no local stand-in for {uses}")
            else:
                env = {**os.environ, **environment(job, step, matrix, overrides), "PATH": path, "CI": "true"}
                print("$ " + step["run"].strip().replace("\n", "\n$ "), flush=True)
                code = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                      cwd=work, env=env, check=False).returncode
                if code:
                    results.append((name, f"exit {code}", time.monotonic() - started))
                    summary(results, time.monotonic() - started_job)
                    return code
            results.append((name, "ok", time.monotonic() - started))
            print(f"--- {name}: ok in {time.monotonic() - started:.0f} s", flush=True)
        summary(results, time.monotonic() - started_job)
    except (JobError, subprocess.CalledProcessError) as exc:
        print(f"run_linux_job.py: {exc}", file=sys.stderr)
        return 1
    return 0


def summary(results: list[tuple[str, str, float]], total: float) -> None:
    print("\n=== summary")
    for name, status, seconds in results:
        print(f"{status:>8}  {seconds:6.0f} s  {name}")
    print(f"{'':>8}  {total:6.0f} s  in all")


if __name__ == "__main__":
    sys.exit(main())
