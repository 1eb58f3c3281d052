"""Hostile use of the command line (issue 13): one-line errors, exit 2 for bad arguments, 1 for bad data."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import per_image
from mnist_analysis.cli import main
from mnist_analysis.data import registry
from mnist_analysis.data.idx import encode_idx, write_idx
from tests.helpers import full_disk, read_only
from tests.hostile_tools import PROJECT, WorldFolder, make_spec, one_line_error, run_cli


@pytest.fixture
def world():
    folder = WorldFolder()
    yield folder
    folder.cleanup()


@pytest.fixture
def tiny_registry(monkeypatch):
    """Two registered files of synthetic content, standing in for the six real ones."""
    train = (np.arange(600) % 10).astype(np.uint8)
    test = (np.arange(100) * 3 % 10).astype(np.uint8)
    specs = {
        "tiny-train": make_spec(train, "tiny-train", "tiny-train-labels-idx1-ubyte.gz"),
        "tiny-test": make_spec(test, "tiny-test", "tiny-t10k-labels-idx1-ubyte.gz"),
    }
    monkeypatch.setattr(registry, "REGISTRY", specs)
    return specs, {"tiny-train": train, "tiny-test": test}


# ------------------------------------------------------------------ info
def test_info_shows_each_files_state_and_fails_on_truncated_or_swapped_files(tiny_registry, tmp_path, capsys):
    specs, arrays = tiny_registry
    data = encode_idx(arrays["tiny-train"])
    (tmp_path / specs["tiny-train"].filename).write_bytes(gzip.compress(data[:-7]))  # truncated
    write_idx(tmp_path / specs["tiny-test"].filename, arrays["tiny-train"])  # swapped: holds the train labels
    assert main(["info", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    train_line = next(line for line in captured.out.splitlines() if line.startswith(specs["tiny-train"].filename))
    test_line = next(line for line in captured.out.splitlines() if line.startswith(specs["tiny-test"].filename))
    assert "mismatch" in train_line
    assert "truncated: 601 of 608 bytes" in train_line
    assert "mismatch" in test_line
    assert "holds the content of tiny-train-labels-idx1-ubyte.gz" in test_line
    assert "2 of 2 files are bad" in captured.err
    assert "images by split" not in captured.out


def test_info_says_verified_for_good_files_and_missing_is_not_a_fault(tiny_registry, tmp_path, capsys):
    specs, arrays = tiny_registry
    write_idx(tmp_path / specs["tiny-train"].stem, arrays["tiny-train"])
    assert main(["info", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{specs['tiny-train'].filename:34} verified    argument    {tmp_path / specs['tiny-train'].stem}" in out
    assert f"{specs['tiny-test'].filename:34} missing: `mnist-analysis fetch`" in out


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_info_with_a_bad_data_dir_argument_is_one_line_naming_it(tmp_path, capsys, kind):
    folder = tmp_path / "data"
    if kind == "file":
        folder.write_text("not a folder")
    assert main(["info", "--data-dir", str(folder)]) == 2
    line = one_line_error(capsys.readouterr().err, "mnist-analysis info")
    assert f"--data-dir={folder}: " in line
    assert ("not an existing folder" if kind == "missing" else "is a file, not a folder") in line
    assert "pass an existing folder holding the MNIST/QMNIST files" in line


@pytest.mark.parametrize("command", ["info", "fetch", "export"])
def test_a_bad_data_folder_setting_is_bad_data_not_a_bad_argument(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", str(tmp_path / "gone"))
    monkeypatch.setattr(per_image, "export_table", lambda *a, **k: pytest.fail("export ran"))
    assert main([command, *(["--output", str(tmp_path / "out")] if command == "export" else [])]) == 1
    line = one_line_error(capsys.readouterr().err, f"mnist-analysis {command}")
    assert f"$MNIST_ANALYSIS_DATA_DIR={tmp_path / 'gone'}: not an existing folder" in line


@pytest.mark.parametrize("command", ["info", "fetch"])
def test_an_unreadable_data_folder_is_one_line_saying_how_to_fix_it(world, command):
    folder = world.make("data", mode=0o000)
    env = {"MNIST_ANALYSIS_CACHE_DIR": str(world.make("cache", 0o777)), "MNIST_ANALYSIS_MIRRORS": "http://127.0.0.1:9/"}
    by_argument = run_cli(command, "--data-dir", str(folder), env=env, unprivileged=True)
    by_setting = run_cli(command, env={**env, "MNIST_ANALYSIS_DATA_DIR": str(folder)}, unprivileged=True)
    assert (by_argument.returncode, by_setting.returncode) == (2, 1)
    for result, setting in ((by_argument, "--data-dir"), (by_setting, "$MNIST_ANALYSIS_DATA_DIR")):
        line = one_line_error(result.stderr, f"mnist-analysis {command}")
        assert f"{setting}={folder}: the folder is not readable (permission denied)" in line
        assert f"chmod u+rx {folder}" in line
        assert "Errno" not in line


def test_report_with_a_missing_notebooks_folder_or_name_is_a_bad_argument(tmp_path, capsys):
    assert main(["report", "--notebooks", str(tmp_path / "none"), "--output", str(tmp_path / "out")]) == 2
    assert "notebooks folder" in one_line_error(capsys.readouterr().err, "mnist-analysis report")
    assert (
        main(["report", "--notebooks", str(PROJECT / "notebooks"), "--only", "nope", "--output", str(tmp_path / "out")])
        == 2
    )
    assert "--only: no notebook named nope" in one_line_error(capsys.readouterr().err, "mnist-analysis report")


def test_info_names_an_unreadable_file(world):
    folder = world.make("data")
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"x")
    (folder / "train-labels-idx1-ubyte.gz").chmod(0o000)
    result = run_cli(
        "info",
        "--data-dir",
        str(folder),
        env={"MNIST_ANALYSIS_CACHE_DIR": str(world.make("cache", 0o777))},
        unprivileged=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("train-labels-idx1-ubyte.gz"))
    assert "unreadable" in line
    assert "cannot be read (Permission denied)" in line


def test_fetch_into_an_unwritable_cache_blames_the_cache_not_the_mirrors(world):
    cache = world.make("cache", mode=0o555)  # nobody may write in it (root's, and read-only)
    result = run_cli(
        "fetch",
        "--no-progress",
        env={"MNIST_ANALYSIS_CACHE_DIR": str(cache), "MNIST_ANALYSIS_MIRRORS": "http://127.0.0.1:9/"},
        unprivileged=True,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_line_error(result.stderr, "mnist-analysis fetch")
    assert f"cache folder {cache / 'mnist'} is not writable (Permission denied)" in line
    assert "MNIST_ANALYSIS_CACHE_DIR" in line
    assert "could not download" not in line


# ------------------------------------------------------------------ bad arguments: exit 2, one line, no work
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["export", "--sample-size", "-5"],
            "argument --sample-size: expected a whole number of images from 1 to 70,000",
        ),
        (["export", "--sample-size", "0"], "found '0'"),
        (["export", "--seed", "-1"], "argument --seed: expected a whole number from 0 to 4,294,967,295, found '-1'"),
        (["export", "--seed", "x"], "found 'x'"),
        (["report", "--sample-size", "-5"], "argument --sample-size"),
        (["report", "--sample-size", "10000000"], "(MNIST has 70,000), found '10000000'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, expected, capsys, monkeypatch):
    monkeypatch.setattr(per_image, "export_table", lambda *a, **k: pytest.fail("export ran with a bad argument"))
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    line = one_line_error(capsys.readouterr().err, f"mnist-analysis {args[0]}")
    assert expected in line


@pytest.mark.parametrize("command", ["export", "report"])
def test_an_output_that_is_a_file_is_refused_before_any_work(command, tmp_path, capsys, monkeypatch):
    target = tmp_path / "taken"
    target.write_text("keep me")
    monkeypatch.setattr(per_image, "export_table", lambda *a, **k: pytest.fail("export ran"))
    monkeypatch.setattr("mnist_analysis.build.reports.build_reports", lambda *a, **k: pytest.fail("report ran"))
    assert main([command, "--output", str(target)]) == 2
    line = one_line_error(capsys.readouterr().err, f"mnist-analysis {command}")
    assert f"--output: {target} is a file, expected a folder" in line
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("command", ["export", "report"])
def test_an_unwritable_output_is_refused_before_any_work(command, world):
    locked = world.make("locked", mode=0o555)  # nobody may write in it (root's, and read-only)
    result = run_cli(
        command,
        "--output",
        str(locked / "out"),
        env={"MNIST_ANALYSIS_CACHE_DIR": str(world.make("cache", 0o777))},
        unprivileged=True,
    )
    assert result.returncode == 2
    line = one_line_error(result.stderr, f"mnist-analysis {command}")
    assert f"--output: cannot write to {locked / 'out'} (Permission denied)" in line


# ------------------------------------------------------------------ bad data: exit 1, one line
def test_export_with_bad_data_exits_1_with_one_line(tmp_path, capsys):
    labels = (np.arange(60_000) % 10).astype(np.uint8)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(labels)[:-3]))
    assert main(["export", "--data-dir", str(tmp_path), "--output", str(tmp_path / "out")]) == 1
    line = one_line_error(capsys.readouterr().err, "mnist-analysis export")
    assert str(tmp_path / "train-labels-idx1-ubyte.gz") in line
    assert "truncated" in line
    assert list((tmp_path / "out").iterdir()) == []


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise KeyError("internal slip")

    monkeypatch.setattr("mnist_analysis.cli.file_status", broken, raising=False)
    monkeypatch.setattr("mnist_analysis.data.sources.file_status", broken)
    assert main(["info"]) == 1
    line = one_line_error(capsys.readouterr().err, "mnist-analysis info")
    assert "unexpected KeyError: 'internal slip'" in line
    assert "--debug" in line
    with pytest.raises(KeyError, match="internal slip"):
        main(["info", "--debug"])


def test_a_real_bad_argument_run_prints_no_usage_block():
    result = run_cli("report", "--sample-size", "0")
    assert result.returncode == 2
    assert result.stdout == ""
    one_line_error(result.stderr, "mnist-analysis report")


# ------------------------------------------------------------------ export killed while writing
KILLED_WRITE = textwrap.dedent("""
    import os, signal, sys
    import pandas as pd
    from mnist_analysis import per_image

    real_replace = os.replace
    def replace_then_die(source, target):
        real_replace(source, target)
        if str(target).endswith(".parquet"):  # killed between the two moves
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace_then_die
    per_image.write_table(pd.DataFrame({"run": ["new"] * 3}), sys.argv[1])
""")


def test_an_export_killed_while_writing_never_leaves_files_of_two_runs(tmp_path):
    per_image.write_table(pd.DataFrame({"run": ["old"] * 3}), tmp_path)
    result = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(tmp_path)], cwd=PROJECT, capture_output=True)
    assert result.returncode == -9
    present = {p.suffix: p for p in tmp_path.glob(f"{per_image.TABLE_NAME}.*")}
    runs = {set(per_image.read_table(path)["run"]).pop() for path in present.values()}
    assert len(runs) == 1
    assert present
    assert list(tmp_path.glob(".*.part")) == []
    per_image.write_table(pd.DataFrame({"run": ["next"] * 3}), tmp_path)  # the next run cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{per_image.TABLE_NAME}.csv",
        f"{per_image.TABLE_NAME}.parquet",
    ]
    assert {set(per_image.read_table(p)["run"]).pop() for p in tmp_path.iterdir()} == {"next"}


# ------------------------------------------------------------------ issue 25
@pytest.mark.parametrize("inside", [False, True])
def test_report_into_the_notebooks_folder_is_refused_and_the_sources_untouched(tmp_path, inside):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    source = notebooks / "01_fine.ipynb"
    source.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    before = source.read_bytes()
    output = notebooks / "reports" if inside else notebooks
    result = run_cli("report", "--notebooks", str(notebooks), "--output", str(output))
    line = one_line_error(result.stderr, "mnist-analysis report")
    assert result.returncode == 2
    where = f"is inside the notebooks folder {notebooks}" if inside else "is the notebooks folder"
    assert f"--output: {output} {where}" in line
    assert "overwrite" in line
    assert source.read_bytes() == before
    assert sorted(notebooks.iterdir()) == [source]


@pytest.mark.parametrize("kind", ["a file", "an empty folder", "not JSON", "JSON but no notebook"])
def test_report_with_a_bad_notebooks_argument_is_one_precise_line(tmp_path, kind):
    notebooks = tmp_path / "notebooks"
    named = notebooks
    if kind == "a file":
        notebooks.write_text("{}")
    else:
        notebooks.mkdir()
    if kind == "not JSON":
        named = notebooks / "01_broken.ipynb"
        named.write_text("this is no notebook")
    elif kind == "JSON but no notebook":
        named = notebooks / "01_broken.ipynb"
        named.write_text('{"cells": "none"}')
    result = run_cli("report", "--notebooks", str(notebooks), "--output", str(tmp_path / "reports"))
    line = one_line_error(result.stderr, "mnist-analysis report")
    assert result.returncode == 2
    expected = {
        "a file": f"notebooks folder {notebooks}: is a file, expected a folder of .ipynb notebooks",
        "an empty folder": f"notebooks folder {notebooks}: holds no .ipynb notebooks",
        "not JSON": f"notebook {named}: not a Jupyter notebook (Notebook does not appear to be JSON",
        "JSON but no notebook": f"notebook {named}: not a Jupyter notebook (",
    }[kind]
    assert expected in line
    assert not (tmp_path / "reports" / "index.html").exists()


KILLED_CROISSANT = textwrap.dedent("""
    import os, signal, sys
    from mnist_analysis.utils import atomic_output
    with atomic_output(os.path.join(sys.argv[1], "mnist-records.parquet")) as tmp:
        os.kill(os.getpid(), signal.SIGKILL)  # killed while writing, as a croissant run can be
""")


def test_a_part_file_of_a_killed_writer_is_removed_by_the_next_run_and_live_ones_kept(tmp_path):
    result = subprocess.run([sys.executable, "-c", KILLED_CROISSANT, str(tmp_path)], cwd=PROJECT, capture_output=True)
    assert result.returncode == -9
    (left,) = tmp_path.glob(".mnist-records.parquet.*.part")
    assert left.stat().st_size == 0
    live = tmp_path / f".mnist-records.parquet.{os.getppid()}-abcdefgh.part"  # a writer that is still running
    live.write_bytes(b"")
    from mnist_analysis.utils import atomic_write_bytes

    atomic_write_bytes(tmp_path / "mnist-records.parquet", b"next run")
    assert not left.exists()
    assert live.exists()
    assert (tmp_path / "mnist-records.parquet").read_bytes() == b"next run"


def test_a_warning_on_the_command_line_is_one_clean_line_printed_once(tiny_registry, tmp_path):
    specs, arrays = tiny_registry
    spec = specs["tiny-train"]
    (tmp_path / spec.filename).write_bytes(gzip.compress(encode_idx(arrays["tiny-train"])[:-7]))  # bad, found first
    write_idx(tmp_path / spec.stem, arrays["tiny-train"])  # good, found next: used with a warning
    write_idx(tmp_path / specs["tiny-test"].stem, arrays["tiny-test"])
    test_name = specs["tiny-test"].filename
    script = textwrap.dedent(f"""
        import sys
        from mnist_analysis.data import registry
        from tests.hostile_tools import make_spec
        import numpy as np
        registry.REGISTRY = {{
            "tiny-train": make_spec((np.arange(600) % 10).astype(np.uint8), "tiny-train", "{spec.filename}"),
            "tiny-test": make_spec((np.arange(100) * 3 % 10).astype(np.uint8), "tiny-test", "{test_name}"),
        }}
        from mnist_analysis.cli import main
        code = main(["fetch", "--no-progress", "--data-dir", sys.argv[1]])
        main(["fetch", "--no-progress", "--data-dir", sys.argv[1]])  # the same warning again, in the same process
        sys.exit(code)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "UserWarning" not in result.stderr
    assert "warnings.warn" not in result.stderr
    warned = [line for line in lines if "skipped bad copies" in line]
    assert len(warned) == 2
    assert all(line.startswith("mnist-analysis fetch: warning: ") for line in warned)
    assert len(lines) == 2  # one line per run, nothing else


def test_an_unreadable_mnist_subfolder_is_named_not_taken_for_missing(world):
    folder = world.make("data")
    hidden = world.make("data/mnist")
    (hidden / "t10k-labels-idx1-ubyte.gz").write_bytes(b"x")
    hidden.chmod(0o000)
    env = {"MNIST_ANALYSIS_CACHE_DIR": str(world.make("cache", 0o777)), "MNIST_ANALYSIS_MIRRORS": "http://127.0.0.1:9/"}
    info = run_cli("info", "--data-dir", str(folder), env=env, unprivileged=True)
    fetch = run_cli("fetch", "--no-progress", "--data-dir", str(folder), env=env, unprivileged=True)
    for result in (info, fetch):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        line = next(line for line in result.stdout.splitlines() if line.startswith("t10k-labels-idx1-ubyte.gz"))
        assert "missing" not in line
        assert "could not download" not in line
        assert f"{hidden}: cannot read this folder (permission denied)" in line
    assert "unreadable" in next(line for line in info.stdout.splitlines() if line.startswith("t10k-labels"))
    qmnist = next(line for line in info.stdout.splitlines() if line.startswith("qmnist-test"))
    assert "missing" in qmnist  # the qmnist/ subfolder does not exist: nothing hides there


def _long_name(tmp_path):
    return str(tmp_path / ("a" * 256))


def _not_utf8(tmp_path):
    return os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff\xfe")


@pytest.mark.parametrize("make_path", [_long_name, _not_utf8], ids=["256 characters", "not UTF-8"])
@pytest.mark.parametrize("command", ["export", "croissant", "datasheet", "report", "notebooks"])
def test_an_impossible_output_name_is_the_output_checks_one_line(tmp_path, make_path, command, monkeypatch, capsys):
    from mnist_analysis.build import croissant, datasheet, reports

    for module, name in [(per_image, "export_table"), (croissant, "write_croissant"), (datasheet, "write_datasheet")]:
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setattr(reports, "build_reports", lambda *a, **k: pytest.fail("work started"))
    path = make_path(tmp_path)
    args = ["notebooks", path] if command == "notebooks" else [command, "--output", path]
    assert main(args) == 2
    line = one_line_error(capsys.readouterr().err, f"mnist-analysis {command}")
    name = "destination" if command == "notebooks" else "--output"
    if make_path is _long_name:
        assert f"{name}: cannot write to {path} (File name too long); choose a folder you can write to" in line
    else:
        assert f"{name}: {tmp_path}/\\xff\\xfe is not valid UTF-8" in line
    assert sorted(tmp_path.iterdir()) == []


def test_notebooks_into_an_unwritable_destination_is_one_line_exit_2(tmp_path, capsys):

    with read_only(tmp_path):
        code = main(["notebooks", str(tmp_path / "dest")])
        code_inside = main(["notebooks", str(tmp_path)])
    assert code == code_inside == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("mnist-analysis notebooks: error: destination: cannot write to") for line in lines)
    assert "choose a folder you can write to" in lines[0]
    assert sorted(tmp_path.iterdir()) == []


def test_a_full_disk_during_export_names_the_folder_and_leaves_nothing(monkeypatch, capsys):
    frame = pd.DataFrame({"value": np.random.default_rng(0).random(50_000)})  # about 400 kB of Parquet
    monkeypatch.setattr(per_image, "export_table", lambda output, **_: per_image.write_table(frame, output))
    with full_disk() as disk:
        output = disk / "exports"
        assert main(["export", "--output", str(output)]) == 1
        line = one_line_error(capsys.readouterr().err, "mnist-analysis export")
        assert f"no space left on device while writing {output}" in line
        assert "nothing was left half-written" in line
        assert list(output.iterdir()) == []


def test_a_full_disk_under_an_atomic_write_names_the_file_and_leaves_no_part(tmp_path):
    from mnist_analysis.utils import DiskFullError, atomic_write_bytes

    with full_disk() as disk:
        target = disk / "datasheet.html"
        with pytest.raises(DiskFullError, match=f"no space left on device while writing {target}"):
            atomic_write_bytes(target, bytes(64 * 1024))
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_a_full_cache_disk_during_a_download_is_blamed_once_not_on_the_mirrors(monkeypatch, capsys):
    from mnist_analysis.data.downloads import CacheNotWritableError, download
    from tests.mirror_server import MirrorServer

    big = (np.arange(100_000) % 10).astype(np.uint8)
    spec = make_spec(big, "big-labels", "big-labels-idx1-ubyte")
    mirror = MirrorServer(encode_idx(big))
    try:
        with full_disk() as disk:
            monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(disk / "cache"))
            urls = [mirror.url("good", spec.filename), mirror.url("other", spec.filename)]
            with pytest.raises(CacheNotWritableError) as caught:
                download(spec, urls=urls, timeout=5, progressbar=False)
            assert sorted(p.name for p in (disk / "cache" / "mnist").iterdir()) == []
    finally:
        mirror.close()
    message = str(caught.value)
    assert f"no space left on device while writing {disk / 'cache' / 'mnist' / spec.filename}" in message
    assert "the other mirrors were not tried" in message
    assert "could not download" not in message
    assert [r.split("/")[1] for r in mirror.requests] == ["good"]


@pytest.mark.parametrize("size", ["5", "499"])
def test_report_with_a_sample_too_small_for_the_notebooks_is_refused_before_anything_runs(size, tmp_path):
    from mnist_analysis.build.reports import MIN_SAMPLE_SIZE

    result = run_cli("report", "--sample-size", size, "--output", str(tmp_path / "reports"))
    line = one_line_error(result.stderr, "mnist-analysis report")
    assert result.returncode == 2
    assert not (tmp_path / "reports").exists()
    assert f"from {MIN_SAMPLE_SIZE}, the smallest sample every notebook can analyse, to 70,000" in line
    assert f"found '{size}'" in line


def test_report_accepts_the_smallest_workable_sample(monkeypatch, tmp_path):
    from mnist_analysis.build import reports

    seen = {}
    monkeypatch.setattr(reports, "build_reports", lambda *a, **k: seen.update(k["parameters"]))
    output = str(tmp_path / "reports")
    assert (
        main(["report", "--sample-size", str(reports.MIN_SAMPLE_SIZE), "--output", output, "--only", "00_overview"])
        == 0
    )
    assert seen == {"sample_size": reports.MIN_SAMPLE_SIZE}
