"""PyInstaller runtime hook of the `tau` binary: three standard runtime hooks run when their module is first imported.

PyInstaller adds `pyi_rth_inspect`, `pyi_rth_pkgutil` and `pyi_rth_multiprocessing` because the bundle contains those
modules, and runs them on every start, before tau's code: they import inspect (+ zipfile, ast, dis), pkgutil and
multiprocessing (~40 ms) to patch them for a frozen program. A warm `tau run` hands its job to the local server and
never uses any of them. tau.spec removes the three from the start-up scripts and bundles their unchanged sources as
modules `tau_rth_<module>`; this hook, listed after rth_tau_signals, runs each of them right after its module is
imported for the first time (a meta path finder that wraps the module's loader), so every process that imports the
module still sees it patched before any other code does.

Invariants: a hook runs at most once, after its module executed and before the import returns; a module already
imported when this hook runs gets its hook at once; a process started by multiprocessing itself (`-c` with a
multiprocessing helper, `--multiprocessing-fork`) runs the multiprocessing hook at once, as PyInstaller would.
"""

import sys

_HOOKS = {"inspect": "tau_rth_inspect", "pkgutil": "tau_rth_pkgutil", "multiprocessing": "tau_rth_multiprocessing"}
_EAGER = {"multiprocessing": ("-c", "--multiprocessing-fork")}


class _ThenHook:
    """A module's own loader, then its runtime hook."""

    def __init__(self, loader, hook):
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        __import__(self._hook)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _LazyRuntimeHooks:
    """Finds nothing itself: for a hooked module, the spec the other finders give, with its loader wrapped."""

    def find_spec(self, name, path=None, target=None):
        hook = _HOOKS.pop(name, None)
        if hook is None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenHook(spec.loader, hook)
                return spec
        return None


def _install(argv=sys.argv):
    sys.meta_path.insert(0, _LazyRuntimeHooks())
    for module in list(_HOOKS):
        if module in sys.modules:
            __import__(_HOOKS.pop(module))
    for module, flags in _EAGER.items():
        if module in _HOOKS and any(arg in flags for arg in argv[1:]):
            __import__(module)


_install()
