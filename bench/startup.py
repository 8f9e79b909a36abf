"""Startup: wall time of `tau --version`, `tau --help` and a replayed `tau run`, venv vs frozen binaries.

Targets: the venv console script (next to this interpreter), the one-file binary (`--binary`, default `$TAU_BINARY`
or dist/tau when it exists) and the one-directory binary (`--onedir`, default dist/tau-onedir/tau when it exists).
The run is examples/hello/hello.md (model `replay:cassette.json`, no network) in a fresh temporary copy of
examples/hello for every run, so the repository is never touched. Each command gets one untimed warm-up run, then the
median of 10 runs (`--quick`: 3). Without a one-file binary only the venv is measured, and the JSON says so.

Budgets (issue 8, DESIGN.md §6): one-file `--version` and `--help` <= 1.2 s, `tau run` of the example <= 2.5 s;
the one-directory `--version` is reported against DESIGN.md's 0.3 s target for the frozen binary.
Where the time goes: `-X importtime` of `tau run` and `tau --version` in the venv (top-level imports by cumulative
time), unpack overhead (one-file minus one-directory) and freezing overhead (one-directory minus venv).
Before measuring it waits (at most 60 s) for the 1-minute load average to drop below 1 (`settle` in the JSON).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _quiet as quiet

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hello"
DEFAULT_ONEFILE = ROOT / "dist" / "tau"
DEFAULT_ONEDIR = ROOT / "dist" / "tau-onedir" / "tau"
COMMANDS: dict[str, list[str]] = {
    "version": ["--version"],
    "help": ["--help"],
    "run": ["run", "hello.md"],
}
BUDGET_S = {"onefile": {"version": 1.2, "help": 1.2, "run": 2.5}, "onedir": {"run": 2.5}}
TARGET_S = {"onedir": {"version": 0.3}}  # DESIGN.md §6, reported but not part of within_budget
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@contextmanager
def _example_copy() -> Iterator[Path]:
    """A fresh copy of examples/hello without its outputs (notes/ is written by the run)."""
    with tempfile.TemporaryDirectory(prefix="tau-startup-") as tmp:
        target = Path(tmp) / "hello"
        shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("notes", "__pycache__"))
        yield target


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAU_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; cpu = user+sys of the process tree, which other load barely moves."""
    cpu_before = _cpu_of_children()
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.perf_counter() - started
    cpu = _cpu_of_children() - cpu_before
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"startup bench: {' '.join(argv)} exited {result.returncode}: {detail[0]}")
    return elapsed, cpu


def _measure_command(exe: Path, name: str, runs: int) -> dict[str, Any]:
    argv = [str(exe), *COMMANDS[name]]
    times: list[float] = []
    cpus: list[float] = []
    for attempt in range(runs + 1):
        with _example_copy() as cwd:
            elapsed, cpu = _time_once(argv, cwd)
        if attempt:  # the first run warms the page cache (and the one-file unpack path) and is not counted
            times.append(elapsed)
            cpus.append(cpu)
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def _size_mb(path: Path) -> float:
    if path.is_dir():
        total = sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())
    else:
        total = path.stat().st_size
    return round(total / 1e6, 1)


def _measure_target(exe: Path, runs: int, size_of: Path | None) -> dict[str, Any]:
    report: dict[str, Any] = {"path": str(exe)}
    if size_of is not None:
        report["size_mb"] = _size_mb(size_of)
    for name in COMMANDS:
        report[name] = _measure_command(exe, name, runs)
    return report


def _importtime(args: list[str], top: int) -> dict[str, Any]:
    """`python -X importtime -m tau ARGS` in the venv: total and the top-level imports by cumulative time."""
    with _example_copy() as cwd:
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "tau", *args],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    entries: list[tuple[str, int]] = []
    by_package: dict[str, int] = {}
    for line in result.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        package = match.group(4).split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(match.group(1))
        if len(match.group(3)) == 1:  # one space of indentation = imported at top level
            entries.append((match.group(4), int(match.group(2))))
    entries.sort(key=lambda entry: entry[1], reverse=True)
    packages = sorted(by_package.items(), key=lambda entry: entry[1], reverse=True)
    return {
        "command": "tau " + " ".join(args),
        "exit_code": result.returncode,
        "imports_total_s": round(sum(us for _, us in entries) / 1e6, 3),
        "top_level_imports_cumulative_s": {module: round(us / 1e6, 3) for module, us in entries[:top]},
        "by_package_self_s": {package: round(us / 1e6, 3) for package, us in packages[:top]},
    }


def _venv_tau() -> Path:
    candidate = Path(sys.executable).parent / "tau"
    if candidate.exists():
        return candidate
    found = shutil.which("tau")
    if found is None:
        raise SystemExit("startup bench: no `tau` console script next to this interpreter; run scripts/bootstrap")
    return Path(found)


def _checks(targets: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []
    for target, budgets in BUDGET_S.items():
        for command, budget in budgets.items():
            if target in targets:
                measured = targets[target][command]["median_s"]
                checks.append(
                    {
                        "name": f"{target} {command}",
                        "median_s": measured,
                        "budget_s": budget,
                        "within_budget": measured <= budget,
                    }
                )
    return checks


def _differences(targets: dict[str, Any], minuend: str, subtrahend: str) -> dict[str, float] | None:
    if minuend not in targets or subtrahend not in targets:
        return None
    return {
        command: round(targets[minuend][command]["median_s"] - targets[subtrahend][command]["median_s"], 3)
        for command in COMMANDS
    }


def _resolve(given: str | None, default: Path) -> Path | None:
    if given:
        path = Path(given).resolve()
        if not path.exists():
            raise SystemExit(f"startup bench: no binary at {path}")
        return path
    return default if default.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs per command instead of 10")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (default 10, --quick 3)")
    parser.add_argument("--binary", default=os.environ.get("TAU_BINARY"), help="one-file binary (default dist/tau)")
    parser.add_argument("--onedir", default=None, help="one-directory binary (default dist/tau-onedir/tau)")
    parser.add_argument("--no-importtime", action="store_true", help="skip the -X importtime breakdown")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 10)
    settle = quiet.settle()

    onefile = _resolve(args.binary, DEFAULT_ONEFILE)
    onedir = _resolve(args.onedir, DEFAULT_ONEDIR)
    targets: dict[str, Any] = {"venv": _measure_target(_venv_tau(), runs, None)}
    notes: list[str] = []
    if onefile is not None:
        targets["onefile"] = _measure_target(onefile, runs, onefile)
    else:
        notes.append("no one-file binary (dist/tau): measured the venv entry point only; build: scripts/build-binary")
    if onedir is not None:
        targets["onedir"] = _measure_target(onedir, runs, onedir.parent)

    checks = _checks(targets)
    for target, commands in TARGET_S.items():
        for command, seconds in commands.items():
            if target in targets:
                measured = targets[target][command]["median_s"]
                targets[target][command].update(target_s=seconds, within_target=measured <= seconds)

    report: dict[str, Any] = {
        "benchmark": "startup",
        "runs": runs,
        "warmup_runs": 1,
        "statistic": "median wall time of the whole process, seconds (cpu_median_s: user+sys, robust to load)",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "settle": settle,
        "measured": sorted(targets),
        "targets": targets,
        "budget_s": BUDGET_S,
        "checks": checks,
        "within_budget": all(check["within_budget"] for check in checks) if checks else None,
        "where_time_goes": {
            "unpack_overhead_s (onefile - onedir)": _differences(targets, "onefile", "onedir"),
            "frozen_overhead_s (onedir - venv)": _differences(targets, "onedir", "venv"),
        },
    }
    if not args.no_importtime:
        report["where_time_goes"]["venv_importtime"] = [
            _importtime(["--version"], 5),
            _importtime(["run", "hello.md"], 12),
        ]
    if notes:
        report["notes"] = notes
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
