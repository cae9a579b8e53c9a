"""Run a callback once a top-level package has been imported (at once if it already is), importing nothing else.

``wrapt.register_post_import_hook`` does this too, but ``import wrapt`` loads ``asyncio`` and ``importlib.metadata``
(~60 ms in a process that has neither, bench/). An app that never imports an SDK should not pay for that, so the
installers wait for the SDK's top-level package here and only then import wrapt (by then the SDK has loaded
``asyncio`` anyway) to wrap its modules.

Mechanism: a finder first on ``sys.meta_path`` answers for the awaited names only. It asks the other finders
for the real spec and gives the import system a loader that runs the real loader, puts the real loader back on
the module and its spec, and then runs the callbacks. Anything else passes through untouched.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from llmtel._internal import swallowed

Callback = Callable[[ModuleType], None]

_lock = threading.Lock()
_pending: dict[str, list[Callback]] = {}


def when_imported(name: str, callback: Callback) -> None:
    """Call ``callback(module)`` when the top-level package ``name`` has been imported; now if it already is."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _pending.setdefault(name, []).append(callback)
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)
            return
    callback(module)


def _fire(name: str, module: ModuleType) -> None:
    with _lock:
        callbacks = _pending.pop(name, [])
        if not _pending and _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
    for callback in callbacks:
        try:
            callback(module)
        except Exception:
            swallowed(f"after importing {name}")


class _Loader:
    """The real loader, with the callbacks run after it executed the module."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def __getattr__(self, attr: str) -> Any:  # resource readers, get_source, is_package ...
        return getattr(self._loader, attr)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            # nothing outside this import ever sees this wrapper
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
        _fire(self._name, module)


class _Finder:
    """First on ``sys.meta_path`` while a package is awaited; answers for the awaited packages only."""

    _local = threading.local()

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname not in _pending or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = None
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None) if finder is not self else None
                if find is not None:
                    spec = find(fullname, path, target)
                    if spec is not None:
                        break
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not found, a namespace package, or a legacy loader: the import goes on without us
        spec.loader = _Loader(spec.loader, fullname)
        return spec

    def invalidate_caches(self) -> None:
        return None


_FINDER = _Finder()
