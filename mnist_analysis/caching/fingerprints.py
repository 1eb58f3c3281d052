"""Fingerprints of a computation: the code it runs, the libraries it uses, and its inputs' content.

:mod:`mnist_analysis.caching.cache` keys every stored result by these (its module docstring says
what a key covers); :mod:`mnist_analysis.build.execution_cache` keys executed notebooks by them.

- :func:`code_closure`: the SHA-256 of the source of a project module and of every project
  module it imports, directly or indirectly (imports inside functions, and names the
  package's ``__init__`` re-exports, included), found by reading the files (nothing is
  imported). With ``running=True``, the sources this process actually runs
  (:mod:`mnist_analysis.running_code`), refusing with :class:`CodeChangedError` when they
  are not what is on disk; :func:`changed_settings` adds the module-level settings changed
  since import. Files are read once per process and again when their size or modification
  time changes.
- :func:`library_versions`: the installed versions of the distributions that provide a set of
  import names, of everything those require in turn, and Python's.
- :func:`inputs_digest`: the SHA-256 of arguments' content (arrays, DataFrames, plain values).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import threading
from functools import cache
from pathlib import Path

import numpy as np

from .. import running_code
from ..locations import COMPUTED, cache_dir

_PACKAGE = __name__.split(".")[0]
#: Modules that look up, store and key results: their code does not change what a result is. How a
#: result is encoded is keyed on its own (:mod:`mnist_analysis.caching.stored_results`, in every key).
_KEY_MACHINERY = {
    f"{_PACKAGE}.{name}"
    for name in ("caching", "caching.cache", "caching.fingerprints", "caching.stored_results", "running_code")
}


# --------------------------------------------------------------------------- the code a computation runs
_ROOT = Path(__file__).resolve().parents[1]  # the package's folder (this module is in its caching wing)
_PARSING = threading.Lock()


def parse_python(source, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, one thread at a time.

    CPython 3.11 counts the AST builder's recursion per interpreter, not per thread: a parallel
    report build that parsed two notebooks at once failed with "SystemError: AST constructor
    recursion depth mismatch".

    Examples
    --------
    >>> type(parse_python("import numpy")).__name__
    'Module'
    """
    with _PARSING:
        return ast.parse(source, filename=filename)


def _module_file(name: str) -> Path | None:
    """The source file of project module ``name`` (found by path: nothing is imported), or None."""
    parts = name.split(".")[1:]
    for path in (_ROOT.joinpath(*parts).with_suffix(".py") if parts else None, _ROOT.joinpath(*parts, "__init__.py")):
        if path is not None and path.is_file():
            return path
    return None


@cache
def _reexports() -> dict:
    """``{name: module}`` of what the package's ``__init__`` re-exports (its ``_EXPORTS`` table)."""
    init = _ROOT / "__init__.py"
    for node in ast.walk(parse_python(init.read_bytes(), filename=str(init))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


_IMPORTS: dict[tuple[str, str], tuple[frozenset, frozenset]] = {}


def _imports(name: str, is_package: bool, source: bytes, digest: str) -> tuple[frozenset, frozenset]:
    """The project modules a module's source imports and the top-level names of the others (remembered by digest)."""
    remembered = _IMPORTS.get((name, digest))
    if remembered is not None:
        return remembered
    package = name if is_package else name.rsplit(".", 1)[0]
    project, external = set(), set()
    for node in ast.walk(parse_python(source, filename=name)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            if base == _PACKAGE:  # `from mnist_analysis import load_frame`: the module it re-exports
                names += [_reexports()[a.name] for a in node.names if a.name in _reexports()]
        else:
            continue
        # importing `a.b.c` runs the __init__ of each package on the way (`a.b`): follow those too
        names += [imported.rsplit(".", depth)[0] for imported in names for depth in range(1, imported.count("."))]
        for imported in names:
            top = imported.split(".")[0]
            if top == _PACKAGE:
                if imported != _PACKAGE:  # the package's own __init__ only re-exports names lazily
                    project.add(imported)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                external.add(top)
    project |= {name.rsplit(".", depth)[0] for depth in range(1, name.count("."))}  # its own wing's __init__
    _IMPORTS[(name, digest)] = found = (frozenset(project), frozenset(external))
    return found


@cache
def _disk_source(path: str, size: int, mtime_ns: int) -> tuple[bytes, str]:
    source = Path(path).read_bytes()
    return source, hashlib.sha256(source).hexdigest()


def _on_disk(name: str) -> tuple[bytes, str, bool] | None:
    """``(source, SHA-256, is a package)`` of module ``name`` as its file is now, or None if it is no module."""
    path = _module_file(name)
    if path is None:
        return None
    stat = path.stat()
    return (*_disk_source(str(path), stat.st_size, stat.st_mtime_ns), path.name == "__init__.py")


class CodeChangedError(RuntimeError):
    """The code a process runs is not the code on disk (a file edited after import, or a module reloaded)."""


def _running(name: str) -> tuple[bytes, str, bool] | None:
    """Like :func:`_on_disk`, for the source this process executed ``name`` from; refuse if the two differ."""
    disk = _on_disk(name)
    digests = set(running_code.imported_digests(name)) if name in sys.modules else set()
    if not digests:  # not imported yet: it will be imported from disk
        return disk
    if len(digests) > 1:
        raise CodeChangedError(
            f"{name} was reloaded with other code in this process, and other modules may still hold its old "
            "functions; restart the process (the kernel) to use the result cache again"
        )
    if disk is None or disk[1] not in digests:
        raise CodeChangedError(
            f"{name} changed on disk after this process imported it, so the code that runs is not the code on "
            "disk (worker processes would run the new code); restart the process (the kernel) to use the result "
            "cache again"
        )
    return disk


def code_closure(module: str, *, running: bool = False) -> tuple[dict, set]:
    """Return ``({project module: SHA-256 of its source}, {third-party import names})`` for ``module``.

    The closure follows every import of a project module (at the top or inside a function) and
    names re-exported by the package's ``__init__`` to the module that defines them. Files are
    read, not imported. With ``running=True`` it is the closure of the code this process runs:
    :class:`CodeChangedError` if a module of the closure was imported from a source other than
    its file's now, or executed from two different sources (see :mod:`mnist_analysis.running_code`).

    Examples
    --------
    >>> modules, libraries = code_closure("mnist_analysis.measurements")
    >>> "mnist_analysis.measurements" in modules, "mnist_analysis.plotting" in modules
    (True, False)
    >>> "numpy" in libraries
    True
    """
    read = _running if running else _on_disk
    digests, libraries, pending = {}, set(), [module]
    while pending:
        name = pending.pop()
        if name in digests:
            continue
        if name in _KEY_MACHINERY:  # they store results and make keys; they do not compute results
            digests[name] = "storage"
            continue
        found = read(name)
        if found is None:  # an imported name that is not a module of its own (a function, a class)
            continue
        source, digest, is_package = found
        digests[name] = digest
        project, external = _imports(name, is_package, source, digest)
        libraries |= external
        pending.extend(sorted(project - set(digests)))
    return dict(sorted(digests.items())), libraries


def changed_settings(modules) -> dict:
    """``{"module.SETTING": canonical value}`` for the settings of ``modules`` changed since their import.

    Raises :class:`~mnist_analysis.running_code.UnkeyableSetting` for a setting that now holds
    a value without a canonical form.

    Examples
    --------
    >>> changed_settings(code_closure("mnist_analysis.measurements")[0])
    {}
    """
    changed = {}
    for module in modules:
        if module in sys.modules and module not in _KEY_MACHINERY:
            changed |= {f"{module}.{k}": v for k, v in running_code.changed_settings(module).items()}
    return changed


def source_digest(module: str) -> str:
    """The SHA-256 of the source this process runs ``module`` from (its file's, if not imported yet)."""
    return _running(module)[1]


@cache
def _distributions_of_imports() -> dict:
    """``{import name: [distributions]}``, remembered on disk while no install folder changes.

    :func:`importlib.metadata.packages_distributions` reads every installed package's file list
    (0.4 s here); the versions themselves are always read fresh.
    """
    from importlib.metadata import packages_distributions

    stamp = [[p, os.stat(p).st_mtime_ns] for p in sys.path if p and os.path.isdir(p)]
    memo = cache_dir() / COMPUTED / ".import-names.json"
    try:
        remembered = json.loads(memo.read_text())
        if remembered["stamp"] == stamp:
            return remembered["mapping"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    mapping = packages_distributions()
    try:
        from ..utils import atomic_write_bytes

        atomic_write_bytes(memo, json.dumps({"stamp": stamp, "mapping": mapping}).encode())
    except OSError:
        pass
    return mapping


@cache
def _requirements(distribution: str) -> tuple[str, ...]:
    import re
    from importlib.metadata import PackageNotFoundError, requires

    try:
        listed = requires(distribution) or []
    except PackageNotFoundError:
        return ()
    # Only unconditional requirements: extras and other platforms are not installed for this use.
    return tuple(re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in listed if ";" not in r)


@cache
def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def library_versions(import_names) -> dict:
    """Return ``{distribution: version}`` for the distributions providing ``import_names`` and their requirements.

    Examples
    --------
    >>> versions = library_versions({"sklearn"})
    >>> "scikit-learn" in versions and "scipy" in versions and "python" in versions
    True
    """
    mapping = _distributions_of_imports()
    pending = sorted({d for name in import_names for d in mapping.get(name, [name])})
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    while pending:
        distribution = pending.pop()
        key = distribution.lower().replace("_", "-")
        if key in versions:
            continue
        versions[key] = _version(distribution)
        if versions[key] is not None:
            pending.extend(r for r in _requirements(distribution) if r.lower().replace("_", "-") not in versions)
    return dict(sorted(versions.items()))


# --------------------------------------------------------------------------- the inputs' content
def _digest_value(value, digest) -> None:
    """Feed a canonical, type-tagged form of ``value`` into ``digest``; refuse what has no content key."""
    import pandas as pd

    if value is None or isinstance(value, (bool, str, int, float, np.integer, np.floating, np.bool_)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:  # strings, for example split names: keyed by their JSON form
            items = value.ravel().tolist()
            if not all(item is None or isinstance(item, (str, int, float, bool)) for item in items):
                raise TypeError("cached_call: cannot key an object array holding anything but strings and numbers")
            digest.update(f"objects:{value.shape}:{json.dumps(items)};".encode())
            return
        array = np.ascontiguousarray(value)
        digest.update(f"ndarray:{array.shape}:{array.dtype.str};".encode())
        digest.update(memoryview(array).cast("B"))
    elif isinstance(value, pd.DataFrame):
        columns = [repr(c) for c in value.columns]
        digest.update(f"DataFrame:{columns}:{value.columns.names!r}:{[_dtype_text(t) for t in value.dtypes]};".encode())
        _digest_index(value.index, digest)
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, pd.Series):
        digest.update(f"Series:{value.name!r}:{_dtype_text(value.dtype)};".encode())
        _digest_index(value.index, digest)
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}:{len(value)}[".encode())
        for item in value:
            _digest_value(item, digest)
        digest.update(b"]")
    elif isinstance(value, dict):
        digest.update(f"dict:{len(value)}{{".encode())
        for key in sorted(value, key=repr):
            _digest_value(key, digest)
            _digest_value(value[key], digest)
        digest.update(b"}")
    else:
        raise TypeError(
            f"cached_call: cannot key an argument of type {type(value).__name__} by content; "
            "pass arrays, DataFrames, numbers, strings, None, or lists, tuples and dicts of them"
        )


def _dtype_text(dtype) -> str:
    """A dtype's name, with a categorical's categories in their order and whether they are ordered."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return f"category[{dtype.categories.tolist()!r}, {dtype.categories.dtype}, ordered={dtype.ordered}]"
    return str(dtype)


def _digest_index(index, digest) -> None:
    """An index's names and dtypes (its values enter through ``hash_pandas_object(index=True)``)."""
    levels = [index.get_level_values(i).dtype for i in range(index.nlevels)]
    digest.update(f"index:{type(index).__name__}:{list(index.names)!r}:{[_dtype_text(t) for t in levels]};".encode())


def inputs_digest(*args, **kwargs) -> str:
    """Return the SHA-256 of the content of the arguments (see the module docstring).

    Examples
    --------
    >>> a = np.arange(6, dtype=np.uint8)
    >>> inputs_digest(a, k=3) == inputs_digest(a.copy(), k=3)
    True
    >>> inputs_digest(a, k=3) == inputs_digest(a.astype(np.int16), k=3)
    False
    """
    digest = hashlib.sha256()
    _digest_value(list(args), digest)
    _digest_value(kwargs, digest)
    return digest.hexdigest()
