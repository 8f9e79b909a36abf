"""packaging/rth_tau_lazy.py: PyInstaller's inspect/pkgutil/multiprocessing runtime hooks run right after their
module's first import, once, and not at start-up; a multiprocessing helper process gets its hook at once.

The mechanism is tested in a plain interpreter with stand-in hook modules (`tau_rth_<module>` on sys.path); the frozen
suites (tests/frozen) run the real hooks inside the binary.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RTH = Path(__file__).resolve().parents[2] / "packaging" / "rth_tau_lazy.py"

_PROBE = """
import json, sys
sys.path.insert(0, {hooks!r})
exec(compile(open({rth!r}).read(), "rth_tau_lazy", "exec"), {{"__name__": "rth_tau_lazy"}})
seen = {{"at_start": sorted(m for m in sys.modules if m.startswith("tau_rth_"))}}
import inspect
import inspect
seen["after_inspect"] = sorted(m for m in sys.modules if m.startswith("tau_rth_"))
seen["inspect_hooked"] = getattr(inspect, "HOOKED", 0)
seen["source"] = inspect.getsource(json.dumps).startswith("def dumps")
import pkgutil
seen["pkgutil_hooked"] = getattr(pkgutil, "HOOKED", 0)
print(json.dumps(seen))
"""


def _probe(tmp_path: Path, *args: str) -> dict[str, object]:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for module in ("inspect", "pkgutil", "multiprocessing"):
        body = f"import {module}\n{module}.HOOKED = getattr({module}, 'HOOKED', 0) + 1\n"
        (hooks / f"tau_rth_{module}.py").write_text(body)
    script = _PROBE.format(hooks=str(hooks), rth=str(RTH))
    # -S -I: no site (nothing imports inspect or pkgutil before the hook is installed)
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", script, *args], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_hook_runs_once_right_after_its_module_is_first_imported(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "run", "job.md")
    assert seen["at_start"] == []
    assert seen["after_inspect"] == ["tau_rth_inspect"]
    assert seen["inspect_hooked"] == 1  # a second import does not run it again
    assert seen["source"] is True  # the wrapped loader still answers get_source
    assert seen["pkgutil_hooked"] == 1


def test_a_multiprocessing_helper_process_gets_its_hook_at_start(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "--multiprocessing-fork")
    assert seen["at_start"] == ["tau_rth_multiprocessing"]
