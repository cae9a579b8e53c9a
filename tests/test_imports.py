"""The import watcher (llmtel._imports): callbacks after a package's import, nothing left behind."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from llmtel import _imports


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throw-away package that fails to import while ``fail`` exists next to it."""
    name = "llmtel_watch_probe"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(
        "import pathlib\n"
        "if (pathlib.Path(__file__).parent / 'fail').exists():\n"
        "    raise RuntimeError('broken on purpose')\n"
        "VALUE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    _imports._pending.pop(name, None)
    if not _imports._pending and _imports._FINDER in sys.meta_path:
        sys.meta_path.remove(_imports._FINDER)


def test_fires_after_the_import_and_leaves_nothing_behind(package: str) -> None:
    seen: list[ModuleType] = []
    _imports.when_imported(package, seen.append)
    assert seen == [] and _imports._FINDER in sys.meta_path
    module = __import__(package)
    assert seen == [module] and module.VALUE == 42  # after the module ran, with the module
    assert type(module.__loader__).__name__ == "SourceFileLoader" and module.__spec__.loader is module.__loader__
    assert _imports._FINDER not in sys.meta_path
    _imports.when_imported(package, seen.append)  # already imported: at once
    assert seen == [module, module]


def test_a_failed_import_keeps_waiting_and_a_failing_callback_is_swallowed(package: str, tmp_path: Path) -> None:
    (tmp_path / package / "fail").touch()
    seen: list[str] = []

    def broken(module: ModuleType) -> None:
        raise ValueError("our bug")

    _imports.when_imported(package, broken)
    _imports.when_imported(package, lambda m: seen.append(m.__name__))
    with pytest.raises(RuntimeError, match="broken on purpose"):
        __import__(package)  # the app's exception, untouched
    assert seen == [] and package not in sys.modules
    (tmp_path / package / "fail").unlink()
    module = __import__(package)  # the app tries again
    assert seen == [package] and module.VALUE == 42  # our failing callback did not stop the import or the others
