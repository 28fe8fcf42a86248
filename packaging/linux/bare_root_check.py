"""Run a Linux build on a bare Debian system: what is missing, and does it work once the launcher's
advice is followed? A slow manual check (root, debootstrap, network to Debian's archive), not CI.

    sudo python packaging/linux/bare_root_check.py dist/VisionCap-<version>-linux-x86_64-cpu.tar.zst
    sudo python packaging/linux/bare_root_check.py dist/VisionCap          # an unpacked build folder

1. `debootstrap --variant=minbase` makes a minimal Debian root once (kept under --root and reused):
   no X11, no OpenGL, no fonts, no fontconfig configuration.
2. Phase "bare": a copy of that root with the app mounted read-only at /opt/VisionCap; inside it
   (chroot) run `ldd` over every bundled library, `VisionCap --check-system` as an X11 desktop
   would, `visioncap-cli --self-test` and an offscreen `VisionCap --screenshot`, and report each.
3. Phase "named": a fresh copy in which only the Debian packages that --check-system named are
   installed (apt-get --no-install-recommends), then the same runs again.

Exits 0 when the "named" phase passes the self-test and the screenshot. The screenshots are
copied to --out so the text can be looked at (the bare root has no fonts: the app's own must show).
At the end it removes the two phase roots and the unpacked archive (a few GB) and says what it
left and where: the minimal root ROOT/base, which the next run reuses (--remove-base removes it
too; --keep leaves everything for a look inside).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

APP = "/opt/VisionCap"
SAMPLES = f"{APP}/_internal/visioncap_desktop/assets/samples"
APT_ADVICE = re.compile(r"`sudo apt install ([^`]+)`")
# what the app runs with inside the root: no desktop, a throw-away home
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp/home", "LANG": "C.UTF-8"}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, check=False, text=True, **kwargs)


def make_base(base: Path, suite: str, mirror: str) -> None:
    if (base / "etc" / "debian_version").is_file():
        print(f"reusing the minimal root {base}")
        return
    if shutil.which("debootstrap") is None:
        sys.exit("bare_root_check: needs debootstrap (apt-get install -y debootstrap)")
    started = time.monotonic()
    if run(["debootstrap", "--variant=minbase", suite, str(base), mirror]).returncode != 0:
        sys.exit(f"bare_root_check: debootstrap {suite} failed")
    print(f"debootstrap: {time.monotonic() - started:.0f} s")


def unpack_app(source: Path, into: Path) -> Path:
    """The app folder: `source` itself, or the VisionCap folder of an archive unpacked into `into`."""
    if source.is_dir():
        return source
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    if run(["tar", "-xf", str(source), "-C", str(into)]).returncode != 0:
        sys.exit(f"bare_root_check: could not unpack {source}")
    (folder,) = into.glob("*/VisionCap")
    return folder


def mount(stack: ExitStack, command: list[str], target: Path) -> None:
    if run(["mount", *command, str(target)]).returncode != 0:
        sys.exit(f"bare_root_check: could not mount {target}")
    stack.callback(lambda: run(["umount", "-l", str(target)]))


def in_root(root: Path, script: str, env: dict[str, str] | None = None, timeout: int = 900) -> tuple[int, str]:
    """Run a shell script inside the root; exit status and output (stdout and stderr)."""
    environment = {**CHROOT_ENV, **(env or {})}
    command = ["chroot", str(root), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in environment.items()),
               "/bin/sh", "-c", script]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s"
    return result.returncode, result.stdout + result.stderr


def missing_by_ldd(root: Path, app: Path) -> str:
    """The sonames that no bundled library can find and the bundle does not hold either (ldd
    misses some bundled ones that are found at run time through the libraries' own RPATH), each
    with how many bundled files need it."""
    script = (f"find {APP}/_internal -name '*.so*' -type f | while read -r f; do "
              f"LD_LIBRARY_PATH={APP}/_internal ldd \"$f\" 2>/dev/null | awk '/=> not found/ {{print $1}}'; "
              "done | sort | uniq -c | sort -rn")
    bundled = {path.name for path in app.rglob("*.so*")}
    lines = [line for line in in_root(root, script)[1].splitlines()
             if line.split() and line.split()[-1] not in bundled]
    return "\n".join(lines) or "(none)"


def phase(name: str, base: Path, app: Path, work: Path, out: Path, packages: list[str]) -> dict:
    root = work / name
    if root.exists():
        shutil.rmtree(root)
    print(f"\n=== phase {name}: copying the minimal root", flush=True)
    run(["cp", "-a", str(base), str(root)])
    report: dict = {"phase": name, "packages": packages}
    with ExitStack() as stack:
        (root / APP.lstrip("/")).mkdir(parents=True)
        mount(stack, ["--bind", "-o", "ro", str(app)], root / APP.lstrip("/"))
        mount(stack, ["-t", "proc", "proc"], root / "proc")
        mount(stack, ["--bind", "/dev"], root / "dev")
        if packages:
            shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")
            code, output = in_root(root, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y "
                                         f"-qq --no-install-recommends {' '.join(packages)}")
            print(output[-3000:])
            if code != 0:
                sys.exit(f"bare_root_check: apt-get install {' '.join(packages)} failed")
        report["ldd"] = missing_by_ldd(root, app)
        print(f"--- system libraries the bundle lacks (ldd; count of bundled files needing each):\n{report['ldd']}")
        for key, script, env in (
            ("check-system", f"{APP}/VisionCap --check-system", {"QT_QPA_PLATFORM": "xcb"}),
            ("self-test", f"{APP}/visioncap-cli --self-test", {"QT_QPA_PLATFORM": "offscreen"}),
            ("screenshot", f"mkdir -p /tmp/samples && cp {SAMPLES}/*.png {SAMPLES}/*.jpg /tmp/samples && "
                           f"{APP}/VisionCap --screenshot /tmp/shot.png /tmp/samples --timeout 300",
             {"QT_QPA_PLATFORM": "offscreen"}),
        ):
            started = time.monotonic()
            code, output = in_root(root, script, env)
            report[key] = (code, time.monotonic() - started, output.strip())
            print(f"--- {key}: exit {code} in {time.monotonic() - started:.1f} s\n{output.strip()}", flush=True)
        if (root / "tmp" / "shot.png").is_file():
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / "tmp" / "shot.png", out / f"screenshot-{name}.png")
    return report


def mounts_under(folder: Path, mounts: Path = Path("/proc/mounts")) -> list[str]:
    """Mount points at or under `folder` (a phase's /dev is the host's own, bound: never rm -rf
    through a mount)."""
    prefix = str(folder.resolve())
    try:
        lines = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return [point for point in points if point == prefix or point.startswith(prefix + "/")]


def folder_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_dir() or p.is_symlink())


def clean_up(root: Path, remove_base: bool = False, mounts: Path = Path("/proc/mounts")) -> list[str]:
    """Remove what this check made under `root` (the phase roots, the unpacked archive, and with
    `remove_base` the minimal root); one line per folder removed or left, with its size."""
    lines = []
    for name in ("bare", "named", "app", *(("base",) if remove_base else ())):
        folder = root / name
        if not folder.exists():
            continue
        size = folder_bytes(folder)
        still = mounts_under(folder, mounts)
        if still:
            lines.append(f"left: {folder} ({size / 1e6:.0f} MB): still mounted at {', '.join(still)}; "
                         f"umount them, then rm -rf {folder}")
            continue
        shutil.rmtree(folder)
        lines.append(f"removed: {folder} ({size / 1e6:.0f} MB)")
    base = root / "base"
    if base.exists():
        lines.append(f"left: {base} ({folder_bytes(base) / 1e6:.0f} MB), the minimal Debian root the next run "
                     f"reuses; remove it with --remove-base or rm -rf {base}")
    elif root.is_dir() and not any(root.iterdir()):
        root.rmdir()
        lines.append(f"removed: {root}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bare_root_check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", type=Path, help="a Linux archive (.tar.zst/.tar.gz) or an unpacked VisionCap folder")
    parser.add_argument("--root", type=Path, default=Path("/var/tmp/visioncap-bare"),
                        help="work folder; the minimal root in ROOT/base is kept and reused")
    parser.add_argument("--suite", default="bookworm", help="Debian release (default: bookworm, Debian 12)")
    parser.add_argument("--mirror", default="http://deb.debian.org/debian")
    parser.add_argument("--out", type=Path, default=Path("build/bare-root"), help="where the screenshots go")
    parser.add_argument("--keep", action="store_true", help="leave the phase roots and the unpacked app in ROOT")
    parser.add_argument("--remove-base", action="store_true", help="also remove the minimal root ROOT/base")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        sys.exit("bare_root_check: runs on Linux as root (debootstrap, chroot, mount)")
    args.root.mkdir(parents=True, exist_ok=True)
    make_base(args.root / "base", args.suite, args.mirror)
    app = unpack_app(args.app.resolve(), args.root / "app")

    bare = phase("bare", args.root / "base", app, args.root, args.out, [])
    named = sorted({pkg for match in APT_ADVICE.finditer(bare["check-system"][2]) for pkg in match.group(1).split()})
    print(f"\nthe launcher named these Debian packages: {' '.join(named) or '(none)'}")
    after = phase("named", args.root / "base", app, args.root, args.out, named)

    print("\n=== summary")
    print("| phase | packages installed | --check-system | --self-test | --screenshot (offscreen) |")
    print("|---|---|---|---|---|")
    for report in (bare, after):
        cells = [f"exit {report[k][0]} ({report[k][1]:.1f} s)" for k in ("check-system", "self-test", "screenshot")]
        print(f"| {report['phase']} | {' '.join(report['packages']) or 'none'} | {' | '.join(cells)} |")
    ok = after["self-test"][0] == 0 and after["screenshot"][0] == 0
    print("passed: the app runs with only what the launcher named" if ok else "FAILED: see the phase named above")
    print("\n=== what this check leaves")
    if args.keep:
        print(f"left (--keep): everything under {args.root}")
    else:
        print("\n".join(clean_up(args.root, args.remove_base)))
    print(f"left: the screenshots in {args.out.resolve()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
