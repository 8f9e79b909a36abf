"""Build the tau sandbox image offline (debootstrap base -> docker import -> Containerfile); print the tag.

Usage: python sandbox/build.py [--base IMAGE] [--mirror URL]. Idempotent: an existing content-hash tag is reused.
`tau sandbox build` calls the same function (tau.environment.sandbox.build_image).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tau.environment.sandbox import DEFAULT_MIRROR, LOCAL_BASE, SandboxError, build_image


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the tau sandbox image (offline by default).")
    parser.add_argument("--base", default=LOCAL_BASE, help=f"base image (default {LOCAL_BASE}, made by debootstrap)")
    parser.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror for debootstrap")
    args = parser.parse_args()
    started = time.monotonic()

    def progress(line: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - started:6.1f}s] {line}\n")

    try:
        tag = build_image(base=args.base, mirror=args.mirror, progress=progress)
    except SandboxError as error:
        sys.stderr.write(f"sandbox build: {error}\n")
        return 1
    sys.stdout.write(f"{tag}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
