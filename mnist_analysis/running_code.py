"""What code this process runs: the source each project module was imported from, and its settings.

The result cache keys a result by the code that computes it (:mod:`mnist_analysis.caching.cache`). In
a long-running process, a JupyterLab kernel above all, the files on disk can change after a
module was imported, a module can be reloaded while other modules hold its old functions,
and a module-level setting (``label_quality.SVM_C``...) can be reassigned. The disk then no
longer says what runs. So importing the package installs an import hook, scoped to the
package's own modules, which

- compiles each module from the bytes it hashes (so the record cannot differ from the code
  that runs; no ``.pyc`` is read or written for them), keeping the SHA-256 of every source a
  module was executed from in this process (a reload adds one);
- remembers the functions and classes the module's names were bound to, so that one
  replaced at run time (a monkeypatch) is noticed;
- snapshots the module's **settings** as they were once it ran: its module-level names
  written in capitals (``SVM_C``, ``FAST_UMAP``, ``_BLOCK_ROWS``) that hold plain data
  (numbers, strings, bytes, paths, arrays, and tuples, lists, sets and string-keyed dicts of
  them), in a canonical JSON form.

:func:`changed_settings` says which settings differ from that snapshot now, and
:func:`settings_as_imported` lets a worker process take over the parent's settings
(:func:`mnist_analysis.utils.in_worker_processes` does, for each call). This module uses only
the standard library, so installing it costs nothing on import.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import inspect
import json
import re
import sys
import threading
from pathlib import PurePath

_PACKAGE = __name__.split(".")[0]
_SETTING_NAME = re.compile(r"_?[A-Z][A-Z0-9_]*")
_LOCK = threading.Lock()
#: ``{module: [SHA-256 of the source of each execution, oldest first]}``.
_DIGESTS: dict[str, list[str]] = {}
#: ``{module: {setting: canonical JSON}}`` as of the module's latest execution.
_SETTINGS: dict[str, dict[str, str]] = {}
#: ``{module: {name: function or class}}`` bound at the module's latest execution.
_DEFINITIONS: dict[str, dict[str, object]] = {}


class UnkeyableSetting(TypeError):
    """A setting now holds a value that has no canonical form (an object, a function...)."""


def canonical(value) -> str:
    """Return a canonical JSON text of a plain-data ``value``; raise :class:`UnkeyableSetting` otherwise.

    Examples
    --------
    >>> canonical({"b": (1, 2.0), "a": True})
    '{"dict": {"a": true, "b": [{"int": 1}, 2.0]}}'
    >>> canonical(1) == canonical(1.0)
    False
    """
    return json.dumps(_plain(value), sort_keys=True)


def _plain(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return {"int": value} if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(value, bytes):
        return {"bytes": hashlib.sha256(value).hexdigest()}
    if isinstance(value, PurePath):
        return {"path": str(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(canonical(v) for v in value)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _plain(v) for k, v in value.items()}}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return {"numpy": value.dtype.str, "value": value.item()}
    if numpy is not None and isinstance(value, numpy.ndarray) and not value.dtype.hasobject:
        array = numpy.ascontiguousarray(value)
        return {"ndarray": [list(array.shape), array.dtype.str, hashlib.sha256(array.tobytes()).hexdigest()]}
    raise UnkeyableSetting(f"a {type(value).__name__} has no canonical form")


def _settings_of(namespace: dict) -> dict[str, str]:
    snapshot = {}
    for name, value in namespace.items():
        if _SETTING_NAME.fullmatch(name):
            try:
                snapshot[name] = canonical(value)
            except UnkeyableSetting:
                continue  # a class, a compiled pattern, a lock...: not a setting
    return snapshot


class _RecordingLoader(importlib.machinery.SourceFileLoader):
    """A source loader that compiles exactly the bytes whose SHA-256 it records."""

    def get_code(self, fullname):
        source = self.get_data(self.path)
        self._digest = hashlib.sha256(source).hexdigest()
        return self.source_to_code(source, self.path)

    def exec_module(self, module) -> None:
        super().exec_module(module)
        with _LOCK:
            _DIGESTS.setdefault(module.__name__, []).append(self._digest)
            _SETTINGS[module.__name__] = _settings_of(vars(module))
            _DEFINITIONS[module.__name__] = {
                name: value
                for name, value in vars(module).items()
                if inspect.isfunction(value) or inspect.isclass(value)
            }


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the package's submodules as the standard path finder does, with a recording loader."""

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(_PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _RecordingLoader(fullname, spec.origin)
        return spec


def install() -> None:
    """Install the import hook (once per process; the package's ``__init__`` calls it)."""
    with _LOCK:
        if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


def _changes(module: str) -> tuple[dict[str, str | None], list[str]]:
    """``({setting: canonical text now, None if it has none, or "deleted"}, [replaced functions and classes])``."""
    namespace = vars(sys.modules[module]) if module in sys.modules else {}
    with _LOCK:
        recorded = _SETTINGS.get(module, {})
        definitions = _DEFINITIONS.get(module, {})
    replaced = [name for name, value in definitions.items() if namespace.get(name) is not value]
    changed: dict[str, str | None] = {}
    for name, text in recorded.items():
        if name not in namespace:
            changed[name] = "deleted"
            continue
        try:
            now = canonical(namespace[name])
        except UnkeyableSetting:
            now = None
        if now != text:
            changed[name] = now
    return changed, replaced


def imported_digests(module: str) -> list[str]:
    """The SHA-256 of every source ``module`` was executed from in this process, oldest first.

    Examples
    --------
    >>> import mnist_analysis.data.idx
    >>> len(imported_digests("mnist_analysis.data.idx")[0])
    64
    """
    with _LOCK:
        return list(_DIGESTS.get(module, []))


def changed_settings(module: str) -> dict[str, str]:
    """``{setting: canonical JSON of its value now}`` for each setting of ``module`` that differs from its import.

    A setting that was deleted maps to ``"deleted"``. A setting that now holds a value without
    a canonical form, or a function or class of the module replaced by another object (a
    monkeypatch), raises :class:`UnkeyableSetting`, naming it.

    Examples
    --------
    >>> from mnist_analysis import duplicates
    >>> changed_settings("mnist_analysis.duplicates")
    {}
    """
    changed, replaced = _changes(module)
    if replaced:
        raise UnkeyableSetting(
            f"{module}.{replaced[0]} was replaced in this process by another object, whose code the cache cannot key"
        )
    for name, text in changed.items():
        if text is None:
            raise UnkeyableSetting(f"{module}.{name} was set to a value the cache cannot key")
    return changed


def settings_as_imported() -> dict[str, dict]:
    """``{module: {setting: value}}`` of every loaded project module's settings changed since its import.

    What a worker process needs to compute what its parent would: workers import the package
    afresh and so start from the defaults. (A replaced function cannot be handed over; the
    cache does not store what such a process computes.)
    """
    with _LOCK:
        modules = sorted(_SETTINGS)
    handed = {}
    for module in modules:
        names = [name for name, text in _changes(module)[0].items() if text != "deleted"]
        if names:
            handed[module] = {name: vars(sys.modules[module])[name] for name in names}
    return handed


def apply_settings(settings: dict[str, dict]) -> None:
    """Set the given module-level settings (in a worker process, from :func:`settings_as_imported`)."""
    for module, values in settings.items():
        if not module.startswith(_PACKAGE + "."):
            raise ValueError(f"settings: expected modules of {_PACKAGE}, found {module!r}")
        loaded = importlib.import_module(module)
        for name, value in values.items():
            setattr(loaded, name, value)
