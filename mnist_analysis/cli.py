"""The ``mnist-analysis`` command line.

Commands: ``fetch``, ``info``, ``cache``, ``export``, ``croissant``, ``datasheet``, ``notebooks``
and ``report``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from . import __version__


def _fetch(args) -> int:
    from .data.downloads import CacheNotWritableError
    from .data.registry import REGISTRY
    from .data.sources import fetch

    _check_data_dir(args.data_dir)  # a bad data folder is one error, not one per file
    failed = 0
    for key, spec in REGISTRY.items():
        try:
            located = fetch(key, data_dir=args.data_dir, progressbar=not args.no_progress)
        except CacheNotWritableError:  # the same for every file: one error
            raise
        except Exception as error:  # report every file, then fail
            failed += 1
            print(f"{spec.filename:34} FAILED  {error}")
        else:
            print(f"{spec.filename:34} verified  sha256 {spec.sha256[:12]}…  from {located.origin:11}  {located.path}")
            if located.note:
                print(f"{'':34} repaired: {located.note}")
    if failed:
        print(f"\n{failed} of {len(REGISTRY)} files could not be fetched and verified.", file=sys.stderr)
    return 1 if failed else 0


def _info(args) -> int:
    from .caching.cache import CACHE_ENV, cache_dir
    from .data.registry import MIRRORS_ENV, REGISTRY
    from .data.sources import DATA_DIR_ENV, array_cache_path, file_status

    print(f"mnist-analysis {__version__} (Python {sys.version.split()[0]})")
    print(f"data folder : {args.data_dir or os.environ.get(DATA_DIR_ENV) or '(none; set ' + DATA_DIR_ENV + ')'}")
    print(f"cache folder: {cache_dir()}{'' if os.environ.get(CACHE_ENV) else '  (set ' + CACHE_ENV + ' to move it)'}")
    if os.environ.get(MIRRORS_ENV):
        named = [base for base in os.environ[MIRRORS_ENV].split(",") if base.strip()]
        problem = "" if named else f"  (names no URL: nothing can be downloaded; unset {MIRRORS_ENV} or list base URLs)"
        print(f"mirrors     : {os.environ[MIRRORS_ENV] if named else repr(os.environ[MIRRORS_ENV])}{problem}")
    _check_data_dir(args.data_dir)
    states = []
    for spec in REGISTRY.values():
        status = file_status(spec, args.data_dir)
        states.append(status.state)
        cached = array_cache_path(spec).is_file()
        if status.state == "missing":
            urls = spec.urls()
            where = f"downloads it from {urls[0]}" if urls else f"cannot download it ({MIRRORS_ENV} names no URL)"
            print(
                f"{spec.filename:34} missing: `mnist-analysis fetch` {where}"
                + (
                    " (a decoded array is cached but no source file: it is served while its stamp shows it unchanged "
                    "since it was verified; `mnist-analysis fetch` re-hashes it)"
                    if cached
                    else ""
                )
            )
        elif status.state == "verified":
            decoded = "decoded array cached" if cached else "not decoded yet"
            print(f"{spec.filename:34} verified    {status.located.origin:11} {status.located.path}  ({decoded})")
            if status.detail:
                print(f"{'':34} warning     {status.detail}")
        else:
            print(f"{spec.filename:34} {status.state:11} {status.detail}")
    problems = sum(state in ("mismatch", "unreadable") for state in states)
    if problems:
        print(
            f"\n{problems} of {len(states)} files are bad (see above): fix or delete them, then run "
            "`mnist-analysis fetch`",
            file=sys.stderr,
        )
        return 1
    if "missing" not in states:
        from .data.loaders import load_frame

        frame = load_frame(data_dir=args.data_dir)
        counts = frame.groupby(["split", "writer_group"], observed=True).size()
        print("\nimages by split and writer group:")
        for (split, group), n in counts.items():
            print(f"  {split:5} {group:7} {n:6,}")
    return 0


def packaged_notebooks() -> Path:
    """The notebooks that ship with the package.

    In an installed wheel they are ``mnist_analysis/notebooks/``; in a checkout (or an editable
    install) they are the repository's ``notebooks/`` beside the package.
    """
    package = Path(__file__).resolve().parent
    for folder in (package / "notebooks", package.parent / "notebooks"):
        if any(folder.glob("*.ipynb")):
            return folder
    raise FileNotFoundError(f"no notebooks shipped with the package in {package}; reinstall mnist-analysis")


def _notebooks(args) -> int:
    import shutil

    from .utils import atomic_output

    source = packaged_notebooks()
    target = Path(args.destination)
    _check_output(target, "destination")  # a file, an unwritable folder, a name too long or not UTF-8
    notebooks = sorted(source.glob("*.ipynb"))
    clashes = [target / n.name for n in notebooks if (target / n.name).exists()]
    if clashes and not args.force:
        raise UsageError(
            f"destination {target}: already holds {', '.join(c.name for c in clashes)}; "
            "pass --force to overwrite them or choose another folder"
        )
    target.mkdir(parents=True, exist_ok=True)
    for notebook in notebooks:
        with atomic_output(target / notebook.name) as tmp:
            shutil.copyfile(notebook, tmp)
        print(f"copied {target / notebook.name}")
    print(
        f"edit them in JupyterLab (jupyter lab {target}) and render them with "
        f"`mnist-analysis report --notebooks {target}`"
    )
    return 0


def _skip_iri_grammars() -> None:
    """Keep jsonschema from compiling rfc3987-syntax's IRI grammars when nbformat loads it.

    jsonschema registers an ``iri`` format checker when the optional rfc3987-syntax is installed
    (JupyterLab's dependencies install it), and importing that library compiles 38 grammars:
    about 0.8 s against 0.1 s without it (importing jsonschema and nbformat), a quarter of a
    report build that reuses everything (3.5 s, ``benchmarks/results/report.json``). Notebook
    schemas use no ``iri`` format, so the report command does without it (this process only).
    """
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None makes its import raise ImportError


def _report(args) -> int:
    _skip_iri_grammars()
    from .build.reports import build_reports, check_output_outside, checked_notebooks

    if args.notebooks is None:
        args.notebooks = packaged_notebooks()
    try:
        check_output_outside(args.notebooks, args.output, "--output")
    except ValueError as error:
        raise UsageError(str(error)) from None
    _check_output(args.output)
    parameters = {}
    if args.sample_size is not None:
        parameters["sample_size"] = args.sample_size
    if args.seed is not None:
        parameters["seed"] = args.seed
    try:
        checked_notebooks(args.notebooks, args.only)
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None
    build_reports(
        args.notebooks,
        args.output,
        quick=args.quick,
        parameters=parameters,
        only=args.only,
        hide_code=args.hide_code,
        jobs=args.jobs,
        force=args.force,
        progress=False if args.no_progress else None,
        max_memory=args.max_memory,
    )
    return 0


def _export(args) -> int:
    from .per_image import export_table

    _check_output(args.output)
    _check_data_dir(args.data_dir)
    paths = export_table(args.output, sample_size=args.sample_size, seed=args.seed, data_dir=args.data_dir)
    for kind, path in paths.items():
        print(f"{kind:8} {path}")
    return 0


def _croissant(args) -> int:
    from .build.croissant import write_croissant

    _check_output(args.output)
    _check_data_dir(args.data_dir)
    paths = write_croissant(args.output, data_dir=args.data_dir)
    print(
        f"metadata {paths['metadata']}\nrecords  {paths['records']}\nraw      {len(paths['raw'])} files in "
        f"{paths['raw'][0].parent}"
    )
    return 0


def _datasheet(args) -> int:
    from .build.datasheet import write_datasheet

    _check_output(args.output)
    _check_data_dir(args.data_dir)
    paths = write_datasheet(args.output, data_dir=args.data_dir)
    for kind, path in paths.items():
        print(f"{kind:8} {path}")
    return 0


def _cache(args) -> int:
    from .caching.cache import cache_dir, cache_summary, clear_cache

    if args.action == "clear":
        try:
            removed = clear_cache(args.kind)
        except ValueError as error:
            raise UsageError(str(error)) from None
        for path in removed:
            print(f"removed {path}")
        everything = "all results, executed notebooks and decoded arrays (the downloaded files are kept)"
        print("nothing to remove" if not removed else f"cleared {args.kind or everything}")
        return 0
    if args.kind is not None:
        raise UsageError("a kind is given only with `clear` (mnist-analysis cache clear KIND)")
    summary = cache_summary()
    print(f"cache folder: {cache_dir()}")
    if summary.empty:
        print("(empty)")
    for row in summary.itertuples():
        print(f"  {row.kind:18} {row.entries:6,} entries  {row.bytes / 2**20:9.1f} MiB  {row.folder}")
    return 0


class UsageError(ValueError):
    """A command-line argument is wrong (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit code 2) instead of usage text and a message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _argument_type(check, description: str):
    """An argparse ``type`` that parses an integer and checks it with a :mod:`mnist_analysis.validation` function."""

    def convert(text: str):
        try:
            return check(int(text))
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {description}, found {text!r}") from None

    return convert


def _gigabytes(text: str) -> float:
    """An argparse ``type`` for ``--max-memory``: a number of gigabytes above 0, returned in bytes."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of gigabytes above 0, such as 2.5, found {text!r}")
    return value * 1e9


def _sample_size(value: int) -> int:
    from .data.loaders import N_IMAGES
    from .validation import positive_int

    return positive_int(value, "--sample-size", maximum=N_IMAGES)


def _report_sample_size(value: int) -> int:
    from .build.reports import MIN_SAMPLE_SIZE

    value = _sample_size(value)
    if value < MIN_SAMPLE_SIZE:
        raise ValueError(f"--sample-size: expected at least {MIN_SAMPLE_SIZE:,}, found {value}")
    return value


def _seed(value: int) -> int:
    from .validation import seed

    return seed(value, "--seed")


def _check_output(path, name: str = "--output") -> None:
    """Refuse an output folder that cannot be written to, before any work is done.

    Also refused: a path that is not valid UTF-8 (undecodable bytes cannot be written into
    the reports' links, the metadata or the tables) and one the file system cannot hold
    (a name too long): each as one line naming the path.
    """
    from .validation import output_folder

    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise UsageError(
            f"{name}: {shown} is not valid UTF-8 (it holds undecodable bytes); choose a folder name in UTF-8"
        ) from None
    try:
        output_folder(path, name)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        reason = error.strerror or error.__class__.__name__
        raise UsageError(f"{name}: cannot write to {path} ({reason}); choose a folder you can write to") from None


def _check_data_dir(data_dir) -> None:
    """Check the data folders before any work: a bad ``--data-dir`` is a usage error, a bad setting a data error."""
    from .data.sources import DataFolderError, data_folders

    try:
        data_folders(data_dir)
    except DataFolderError as error:
        if data_dir is not None and str(error).startswith("data_dir="):
            raise UsageError("--data-dir" + str(error)[len("data_dir") :]) from None
        raise


SAMPLE_SIZE = _argument_type(_sample_size, "a whole number of images from 1 to 70,000 (MNIST has 70,000)")
#: The report's: at least the smallest sample that every shipped notebook can analyse (see reports.MIN_SAMPLE_SIZE).
REPORT_SAMPLE_SIZE = _argument_type(
    _report_sample_size,
    "a whole number of images from 500, the smallest sample every notebook can analyse, to 70,000 (MNIST has 70,000)",
)
SEED = _argument_type(_seed, "a whole number from 0 to 4,294,967,295")
JOBS = _argument_type(lambda value: _positive(value, "--jobs"), "a whole number of notebooks of at least 1")


def _positive(value: int, name: str) -> int:
    from .validation import positive_int

    return positive_int(value, name)


def _add_data_dir(command) -> None:
    command.add_argument("--data-dir", help="a local folder to look in first (default: $MNIST_ANALYSIS_DATA_DIR)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: one sub-command per job, each added by its own function below."""
    parser = _Parser(
        prog="mnist-analysis",
        description="Verified MNIST data, analyses and reports.",
        epilog="Errors are one line; add --debug (anywhere) to see the traceback.",
    )
    parser.add_argument("--version", action="version", version=f"mnist-analysis {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_fetch,
        _add_info,
        _add_export,
        _add_croissant,
        _add_datasheet,
        _add_cache,
        _add_notebooks,
        _add_report,
    ):
        add(commands)
    return parser


def _add_fetch(commands) -> None:
    """The command fetch: get and verify every data file."""
    fetch = commands.add_parser("fetch", help="get and verify every data file; print where each is")
    _add_data_dir(fetch)
    fetch.add_argument("--no-progress", action="store_true", help="no download progress bars")
    fetch.set_defaults(run=_fetch)


def _add_info(commands) -> None:
    """The command info: configuration and where each file is."""
    info = commands.add_parser("info", help="show configuration, where each file is, and counts (never downloads)")
    _add_data_dir(info)
    info.set_defaults(run=_info)


def _add_export(commands) -> None:
    """The command export: the per-image table as Parquet and CSV."""
    export = commands.add_parser(
        "export", help="write the per-image table (all measurements and scores) as Parquet and CSV"
    )
    export.add_argument("--output", default="exports", help="folder for the files (default: exports)")
    export.add_argument(
        "--sample-size", type=SAMPLE_SIZE, help="export a stratified sample of this many images (default: all)"
    )
    export.add_argument("--seed", type=SEED, default=0, help="seed of the sample and of every random step (default: 0)")
    _add_data_dir(export)
    export.set_defaults(run=_export)


def _add_croissant(commands) -> None:
    """The command croissant: Croissant metadata."""
    croissant = commands.add_parser(
        "croissant",
        help="write Croissant JSON-LD metadata with the raw files and a "
        "Parquet table of every image (readable by mlcroissant)",
    )
    croissant.add_argument("--output", default="croissant", help="folder for the files (default: croissant)")
    _add_data_dir(croissant)
    croissant.set_defaults(run=_croissant)


def _add_datasheet(commands) -> None:
    """The command datasheet: the datasheet from the reports folder."""
    datasheet = commands.add_parser(
        "datasheet",
        help="write a datasheet for MNIST (Markdown and HTML) from the data "
        "and the executed notebooks in the reports folder",
    )
    datasheet.add_argument(
        "--output",
        default="reports",
        help="the reports folder: read the executed notebooks there, write datasheet.md/.html there (default: reports)",
    )
    _add_data_dir(datasheet)
    datasheet.set_defaults(run=_datasheet)


def _add_cache(commands) -> None:
    """The command cache: show or clear the cache."""
    cache = commands.add_parser("cache", help="show what is cached (kind, entries, size, where) or clear it")
    cache.add_argument(
        "action",
        nargs="?",
        choices=("show", "clear"),
        default="show",
        help="show (default) or clear; `clear` alone removes every computed result, executed notebook and "
        "decoded array and keeps the downloaded files",
    )
    cache.add_argument(
        "kind",
        nargs="?",
        help="with clear: one kind as listed by `mnist-analysis cache` "
        "(for example measurements, embeddings, downloads)",
    )
    cache.set_defaults(run=_cache)


def _add_notebooks(commands) -> None:
    """The command notebooks: copy the notebooks out for editing."""
    notebooks = commands.add_parser("notebooks", help="copy the project's notebooks into a folder, to edit them")
    notebooks.add_argument("destination", help="folder to copy them into (created if needed)")
    notebooks.add_argument("--force", action="store_true", help="overwrite notebooks of the same name there")
    notebooks.set_defaults(run=_notebooks)


def _add_report(commands) -> None:
    """The command report: execute and render every notebook."""
    from .build.schedule import DEFAULT_MAX_MEMORY

    report = commands.add_parser("report", help="execute every notebook and write HTML reports with an index")
    report.add_argument(
        "--notebooks",
        help="folder of notebooks (default: the notebooks shipped with the package; "
        "`mnist-analysis notebooks DEST` copies them out for editing)",
    )
    report.add_argument("--output", default="reports", help="folder for the reports (default: reports)")
    report.add_argument("--quick", action="store_true", help="run every notebook on a small sample (sample_size=2000)")
    report.add_argument(
        "--sample-size",
        type=REPORT_SAMPLE_SIZE,
        help="override the notebooks' sample_size parameter (at least 500: the notebooks need that many images)",
    )
    report.add_argument("--seed", type=SEED, help="override the notebooks' seed parameter")
    report.add_argument("--only", nargs="+", metavar="NAME", help="render only these notebooks (by file stem)")
    report.add_argument("--hide-code", action="store_true", help="leave code cells out of the HTML")
    report.add_argument("--jobs", type=JOBS, help="notebooks to run at once (default: the number of cores)")
    report.add_argument(
        "--max-memory",
        type=_gigabytes,
        metavar="GB",
        help="start a notebook only while the kernels' recorded peaks stay within this many GB "
        f"(default: {DEFAULT_MAX_MEMORY / 1e9:g}; one notebook always runs)",
    )
    report.add_argument(
        "--force", action="store_true", help="execute every notebook, even those whose code and inputs are unchanged"
    )
    report.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)"
    )
    report.set_defaults(run=_report)


def _known_data_errors() -> tuple:
    """Errors that mean the data, a file or a folder is bad (exit code 1), as opposed to a bug."""
    from .build.reports import ReportError
    from .data.downloads import DownloadError

    # ValueError covers IdxFormatError, ChecksumError, ProvenanceMismatchError and the helpers' checks
    return (ValueError, DownloadError, ReportError, OSError)


def _print_error(prog: str, error: BaseException, *, known: bool) -> None:
    """One line for the error; a message that lists several causes (mirrors, notebooks) keeps them below it."""
    first, *rest = (str(error).strip() or error.__class__.__name__).splitlines()
    if not known:
        first = f"unexpected {error.__class__.__name__}: {first} (please report it; --debug shows the traceback)"
    print(f"{prog}: error: {first}", file=sys.stderr)
    for line in rest:
        print(f"  {line.strip()}", file=sys.stderr)


def _warning_printer(prog: str):
    """A ``warnings.showwarning`` that prints each distinct warning once, as one line without source code."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text in seen:
            return
        seen.add(text)
        print(f"{prog}: warning: {text}", file=sys.stderr)

    return show


def main(argv=None) -> int:
    """Run the command; errors become a one-line message and an exit code (2: bad arguments, 1: bad data).

    ``--debug`` anywhere on the command line shows the traceback instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = build_parser().parse_args(argv)
    prog = f"mnist-analysis {args.command}"
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(prog)
            return args.run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every error ends here as one line, unless --debug
        if debug:
            raise
        if isinstance(error, UsageError):
            _print_error(prog, error, known=True)
            return 2
        _print_error(prog, error, known=isinstance(error, _known_data_errors()))
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
