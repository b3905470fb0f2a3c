"""Modules run on the first name asked of them (core.deferred_imports, decision 44), shown on a
package made for each test: its body, which counts its runs, is not run by its import, nor by a
submodule's, nor by ``from parent import module``; it runs once, on the first name asked, and the
module is then what an ordinary import makes. A name its body takes from one of its submodules
may be answered from there first, without running the body."""

from __future__ import annotations

import importlib
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from commonroom.core.deferred_imports import defer


@pytest.fixture
def made(tmp_path: Path) -> Iterator[str]:
    """A package ``<name>`` with a submodule ``sub`` and a module ``heavy`` whose bodies record
    each run in ``<name>_runs.runs``; its name, the import system restored afterwards."""
    name = f"deferred_{uuid.uuid4().hex}"
    package = tmp_path / name
    package.mkdir()
    (tmp_path / f"{name}_runs.py").write_text("runs = []\n")
    (package / "__init__.py").write_text(
        textwrap.dedent(f"""
            import time
            import {name}_runs
            {name}_runs.runs.append("package")
            time.sleep(0.05)
            value = 42
        """)
    )
    (package / "sub.py").write_text(f"import {name}_runs\n{name}_runs.runs.append('sub')\n")
    (package / "heavy.py").write_text(
        textwrap.dedent(f"""
            import {name}_runs
            {name}_runs.runs.append("heavy")
            answer = "heavy's answer"
        """)
    )
    meta_path = list(sys.meta_path)
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.meta_path[:] = meta_path
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.startswith(name)]:
            del sys.modules[module]


def runs(name: str) -> list[str]:
    return list(sys.modules[f"{name}_runs"].runs)


def from_import(made: str, module: str, name: str) -> object:
    """What ``from <module> import <name>`` binds, written in a module of ``made``'s folder."""
    user = f"{made}_user_{uuid.uuid4().hex}"
    folder = Path(importlib.import_module(f"{made}_runs").__file__ or "").parent
    (folder / f"{user}.py").write_text(f"from {module} import {name}\n")
    return getattr(importlib.import_module(user), name)


def test_a_package_runs_on_its_first_name_not_on_its_import_nor_a_submodules(made: str) -> None:
    defer(made)
    package = __import__(made)
    sub = importlib.import_module(f"{made}.sub")
    assert runs(made) == ["sub"]
    # What the import system set is there without running it: a submodule imports through it.
    assert package.__name__ == made
    assert package.__path__
    assert package.__spec__ is not None
    assert package.sub is sub

    assert package.value == 42
    assert runs(made) == ["sub", "package"]
    assert from_import(made, made, "value") == 42 and package.value == 42
    assert runs(made) == ["sub", "package"], "run once"
    assert "__getattr__" not in vars(package)
    assert type(package) is ModuleType
    # Its own loader again, as an ordinary import leaves it.
    assert not type(package.__loader__).__name__.startswith("_Run")


def test_from_a_package_import_a_module_does_not_run_it(made: str) -> None:
    defer(f"{made}.heavy")
    heavy = from_import(made, made, "heavy")
    assert runs(made) == ["package"]
    assert isinstance(heavy, ModuleType)
    assert heavy.answer == "heavy's answer"
    assert runs(made) == ["package", "heavy"]


def test_a_name_it_does_not_have_is_an_attribute_error_once_it_has_run(made: str) -> None:
    defer(f"{made}.heavy")
    heavy = importlib.import_module(f"{made}.heavy")
    assert not hasattr(heavy, "missing")
    assert runs(made) == ["package", "heavy"]
    with pytest.raises(ImportError):
        from_import(made, f"{made}.heavy", "missing")
    assert heavy.answer == "heavy's answer"


def test_a_module_s_own_getattr_still_answers(made: str, tmp_path: Path) -> None:
    (tmp_path / made / "heavy.py").write_text("def __getattr__(name):\n    return f'made {name}'\n")
    defer(f"{made}.heavy")
    heavy = importlib.import_module(f"{made}.heavy")
    assert heavy.anything == "made anything"
    assert heavy.other == "made other"


def test_threads_asking_at_once_run_it_once_and_all_see_it_whole(made: str) -> None:
    defer(made)
    package = __import__(made)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(package.value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 8
    assert runs(made) == ["package"]


def test_a_body_that_fails_fails_where_it_is_asked_and_runs_again_on_the_next(
    made: str, tmp_path: Path
) -> None:
    heavy = tmp_path / made / "heavy.py"
    heavy.write_text("raise RuntimeError('not yet')\n")
    defer(f"{made}.heavy")
    module = importlib.import_module(f"{made}.heavy")
    with pytest.raises(RuntimeError, match="not yet"):
        module.answer  # noqa: B018
    heavy.write_text("answer = 'now'\n")
    assert module.answer == "now"


def test_a_circular_import_sees_a_partly_run_module_as_an_ordinary_one_does(
    made: str, tmp_path: Path
) -> None:
    (tmp_path / made / "heavy.py").write_text(f"early = 1\nfrom {made} import other\nlate = 2\n")
    (tmp_path / made / "other.py").write_text(
        f"from {made}.heavy import early\n"
        "try:\n"
        f"    from {made}.heavy import late\n"
        "except ImportError:\n"
        "    late = None\n"
    )
    defer(f"{made}.heavy")
    heavy = importlib.import_module(f"{made}.heavy")
    assert heavy.late == 2
    other = sys.modules[f"{made}.other"]
    assert (other.early, other.late) == (1, None)


def test_what_is_imported_already_or_cannot_be_found_is_left_alone(made: str) -> None:
    package = __import__(made)
    assert runs(made) == ["package"]
    before = list(sys.meta_path)
    defer(made)
    assert sys.meta_path == before
    defer(f"{made}.absent")
    with pytest.raises(ModuleNotFoundError):
        __import__(f"{made}.absent")
    assert package.value == 42


def test_a_name_its_body_takes_from_a_submodule_is_answered_from_there_without_running_it(
    made: str, tmp_path: Path
) -> None:
    init = tmp_path / made / "__init__.py"
    init.write_text(init.read_text() + "from .heavy import answer\n")
    defer(made, answers={made: {"answer": f"{made}.heavy"}})
    answer = from_import(made, made, "answer")
    assert answer == "heavy's answer"
    assert runs(made) == ["heavy"], "the package's body has not run"
    package = sys.modules[made]
    assert package.value == 42
    assert runs(made) == ["heavy", "package"], "the first other name runs it, once"
    assert package.answer is answer
    assert "__getattr__" not in vars(package)
