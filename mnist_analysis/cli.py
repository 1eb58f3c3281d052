"""The ``mnist-analysis`` command: ``fetch``, ``info``, ``export`` and ``report``."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__


def _fetch(args) -> int:
    from .registry import REGISTRY
    from .sources import fetch

    failed = 0
    for key, spec in REGISTRY.items():
        try:
            located = fetch(key, data_dir=args.data_dir, progressbar=not args.no_progress)
        except Exception as error:  # report every file, then fail
            failed += 1
            print(f"{spec.filename:34} FAILED  {error}")
        else:
            print(f"{spec.filename:34} verified  sha256 {spec.sha256[:12]}…  from {located.origin:11}  {located.path}")
    if failed:
        print(f"\n{failed} of {len(REGISTRY)} files could not be fetched and verified.", file=sys.stderr)
    return 1 if failed else 0


def _info(args) -> int:
    from .cache import CACHE_ENV, cache_dir
    from .registry import MIRRORS_ENV, REGISTRY
    from .sources import DATA_DIR_ENV, array_cache_path, locate

    print(f"mnist-analysis {__version__} (Python {sys.version.split()[0]})")
    print(f"data folder : {args.data_dir or os.environ.get(DATA_DIR_ENV) or '(none; set ' + DATA_DIR_ENV + ')'}")
    print(f"cache folder: {cache_dir()}{'' if os.environ.get(CACHE_ENV) else '  (set ' + CACHE_ENV + ' to move it)'}")
    if os.environ.get(MIRRORS_ENV):
        print(f"mirrors     : {os.environ[MIRRORS_ENV]}")
    missing = 0
    for spec in REGISTRY.values():
        located = locate(spec, args.data_dir)
        decoded = "decoded array cached" if array_cache_path(spec).is_file() else "not decoded yet"
        if located is None:
            missing += 1
            print(f"{spec.filename:34} missing: `mnist-analysis fetch` downloads it from {spec.urls()[0]}")
        else:
            print(f"{spec.filename:34} {located.origin:11} {located.path}  ({decoded})")
    if not missing:
        from .data import load_frame

        frame = load_frame(data_dir=args.data_dir)
        counts = frame.groupby(["split", "writer_group"], observed=True).size()
        print("\nimages by split and writer group:")
        for (split, group), n in counts.items():
            print(f"  {split:5} {group:7} {n:6,}")
    return 0


def _report(args) -> int:
    from .idx import IdxFormatError
    from .reports import ReportError, build_reports
    from .sources import DownloadError

    parameters = {}
    if args.sample_size is not None:
        parameters["sample_size"] = args.sample_size
    if args.seed is not None:
        parameters["seed"] = args.seed
    try:
        build_reports(args.notebooks, args.output, quick=args.quick, parameters=parameters,
                      only=args.only, hide_code=args.hide_code)
    except (ReportError, FileNotFoundError, DownloadError, IdxFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"reports written; open {os.path.join(args.output, 'index.html')}")
    return 0


def _export(args) -> int:
    from .per_image import export_table

    paths = export_table(args.output, sample_size=args.sample_size, seed=args.seed, data_dir=args.data_dir)
    for kind, path in paths.items():
        print(f"{kind:8} {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-analysis", description="Verified MNIST data, analyses and reports.")
    parser.add_argument("--version", action="version", version=f"mnist-analysis {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="get and verify every data file; print where each is")
    fetch.add_argument("--data-dir", help="a local folder to look in first (default: $MNIST_ANALYSIS_DATA_DIR)")
    fetch.add_argument("--no-progress", action="store_true", help="no download progress bars")
    fetch.set_defaults(run=_fetch)

    info = commands.add_parser("info", help="show configuration, where each file is, and counts (never downloads)")
    info.add_argument("--data-dir", help="a local folder to look in first (default: $MNIST_ANALYSIS_DATA_DIR)")
    info.set_defaults(run=_info)

    export = commands.add_parser("export", help="write the per-image table (all measurements and scores) as Parquet and CSV")
    export.add_argument("--output", default="exports", help="folder for the files (default: exports)")
    export.add_argument("--sample-size", type=int, help="export a stratified sample of this many images (default: all)")
    export.add_argument("--seed", type=int, default=0, help="seed of the sample and of every random step (default: 0)")
    export.add_argument("--data-dir", help="a local folder to look in first (default: $MNIST_ANALYSIS_DATA_DIR)")
    export.set_defaults(run=_export)

    report = commands.add_parser("report", help="execute every notebook and write HTML reports with an index")
    report.add_argument("--notebooks", default="notebooks", help="folder of notebooks (default: notebooks)")
    report.add_argument("--output", default="reports", help="folder for the reports (default: reports)")
    report.add_argument("--quick", action="store_true", help="run every notebook on a small sample (sample_size=2000)")
    report.add_argument("--sample-size", type=int, help="override the notebooks' sample_size parameter")
    report.add_argument("--seed", type=int, help="override the notebooks' seed parameter")
    report.add_argument("--only", nargs="+", metavar="NAME", help="render only these notebooks (by file stem)")
    report.add_argument("--hide-code", action="store_true", help="leave code cells out of the HTML")
    report.set_defaults(run=_report)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
