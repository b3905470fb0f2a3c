"""Modules whose body runs when something first asks them for a name, not when they are imported
(decision 44).

Some libraries import, at their top, a module that only a few requests use, and that module
imports a large library: allauth's passkey flows import ``allauth.mfa.webauthn.internal.auth``,
which imports fido2 and cryptography, although only a passkey's registration or sign-in calls
it; django-ninja's settings import ``django.test.signals`` for one signal Django defines in
``django.core.signals``, which runs ``django/test/__init__.py`` (the test client, test cases,
unittest, Jinja2). Every serving process held them from its start.

``defer(*names)`` puts a finder first on ``sys.meta_path``: a module it names, imported for the
first time after that, is created as usual (its ``__name__``, ``__spec__``, ``__file__``,
``__path__``, so its submodules import as before) but its body runs on the first name asked of
it that it does not yet have (``module.name``, ``from module import name``, ``hasattr``), once,
under a lock, in the module's own namespace; then the module is what an ordinary import would
have made. ``import module`` and ``from package import module`` alone ask it for nothing.

A name the module's body itself takes from one of its submodules may be named in ``answers``
(decision 49): allauth's OAuth2 views take ``RequestException`` from requests at their import,
which requests' body takes from ``requests.exceptions``; asked for it first, the module imports
that submodule and answers its object (the same one the body binds when it runs), and the body
still runs whole on the first other name.

A module already imported is left as it is; a name not found by the ordinary finders is left to
them (so an import that fails still fails at the import).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any


class _RunOnFirstName(importlib.abc.Loader):
    """The module's own loader, its ``exec_module`` called on the first name asked."""

    def __init__(self, loader: importlib.abc.Loader, answers: Mapping[str, str]) -> None:
        self.loader = loader
        self.answers = answers

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        loader, answers = self.loader, self.answers
        # Later readers (importlib.resources, reload) see the module's own loader.
        module.__loader__ = loader
        if module.__spec__ is not None:
            module.__spec__.loader = loader
        lock = threading.RLock()
        running: list[bool] = []

        def __getattr__(name: str) -> Any:
            with lock:
                namespace = module.__dict__
                if name in answers and namespace.get("__getattr__") is __getattr__:
                    # A name the module's body itself takes from one of its submodules: that
                    # submodule's, the same object, without running the rest of the body.
                    value = getattr(importlib.import_module(answers[name]), name)
                    namespace[name] = value
                    return value
                if namespace.get("__getattr__") is __getattr__ and not running:
                    running.append(True)
                    try:
                        loader.exec_module(module)
                    finally:
                        running.clear()
                    if namespace.get("__getattr__") is __getattr__:
                        del namespace["__getattr__"]
                # Asked again while its body runs (a circular import), the module answers as
                # a partly run one does.
                if name in namespace:
                    return namespace[name]
                hook = namespace.get("__getattr__")
                if hook is not None and hook is not __getattr__:
                    return hook(name)
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

        module.__dict__["__getattr__"] = __getattr__


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, names: Mapping[str, Mapping[str, str]]) -> None:
        self.names = names

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _RunOnFirstName(spec.loader, self.names[fullname])
        return spec


def defer(*names: str, answers: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Run each named module's body when it is first asked for a name (see the module's text).
    ``answers`` maps a module to names its body takes from its own submodules
    (``{"requests": {"RequestException": "requests.exceptions"}}``): asked first for one of
    them, the module imports that submodule and answers its object, without running its body."""
    answers = answers or {}
    wanted = {name: answers.get(name, {}) for name in names if name not in sys.modules}
    if wanted:
        sys.meta_path.insert(0, _Finder(wanted))
