"""Package calls run in a worker process: results in order, errors raised where the result is taken."""

import numpy as np
import pytest
from joblib import delayed

from mnist_analysis import background, intrinsic_dimension, morphometrics
from mnist_analysis.background import in_background
from mnist_analysis.validation import positive_int


def test_results_come_back_in_order_and_match_the_same_calls_made_here():
    points = np.random.default_rng(0).normal(size=(60, 3))
    first, second = in_background(
        [
            delayed(intrinsic_dimension.neighbour_distances)(points, 4, cache=False),
            delayed(intrinsic_dimension.neighbour_distances)(points, 2, queries=[5, 7], cache=False),
        ]
    )
    here = intrinsic_dimension.neighbour_distances(points, 4, cache=False)
    assert np.array_equal(first.result()[0], here[0])
    assert np.array_equal(first.result()[1], here[1])
    assert np.array_equal(second.result()[1], here[1][[5, 7], :2])


def test_an_error_in_a_call_is_raised_by_its_result_and_later_calls_still_run():
    failing, fine = in_background([delayed(positive_int)(0, "n_boot"), delayed(positive_int)(3, "n")])
    with pytest.raises(ValueError, match="n_boot"):
        failing.result()
    assert fine.result() == 3


def test_a_setting_changed_here_is_set_in_the_worker(monkeypatch):
    monkeypatch.setattr(morphometrics, "THRESHOLD", 0.9)
    bar = np.zeros((1, 28, 28), dtype=np.uint8)
    bar[0, 6:22, 13:16] = np.array([100, 255, 100], dtype=np.uint8)
    (future,) = in_background([delayed(morphometrics.morphometrics)(bar, cache=False)])
    here = morphometrics.morphometrics(bar, cache=False)["area"].iloc[0]
    assert future.result()["area"].iloc[0] == here
    monkeypatch.setattr(morphometrics, "THRESHOLD", 0.5)
    assert morphometrics.morphometrics(bar, cache=False)["area"].iloc[0] > here  # the setting matters


def test_something_other_than_a_delayed_call_is_refused():
    with pytest.raises(TypeError, match="calls: expected joblib delayed calls"):
        in_background([positive_int])


def test_the_worker_runs_at_a_lower_priority_than_the_caller():
    import os

    (future,) = in_background([delayed(os.nice)(0)])
    assert future.result() == min(19, os.nice(0) + background.NICENESS)  # 19: the lowest priority


def test_an_array_given_to_several_calls_is_sent_once_and_each_call_gets_it():
    import pickle

    images = np.random.default_rng(1).integers(0, 256, size=(500, 28, 28), dtype=np.uint8)
    calls = [
        delayed(positive_int)(0, "n"),  # fails before the array is first used: later calls still get it
        delayed(np.sum)(images, axis=(1, 2)),
        delayed(np.max)(images[:10]),  # another array object: sent on its own
        delayed(np.sum)(a=images),
    ]
    sent = pickle.dumps(background._send_each_array_once(calls))
    assert images.nbytes < len(sent) < 1.1 * images.nbytes
    failing, sums, top, total = in_background(calls)
    with pytest.raises(ValueError, match="n"):
        failing.result()
    assert np.array_equal(sums.result(), images.sum(axis=(1, 2)))
    assert top.result() == images[:10].max()
    assert total.result() == images.sum()


def wait_for(condition, seconds: float = 20.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass (the worker exits on its own time)."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_once_the_calls_are_answered_the_caller_has_no_child_process_left():
    """A child left behind (a multiprocessing resource tracker ignores SIGTERM) holds up a kernel's shutdown."""
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    (future,) = in_background([delayed(positive_int)(5, "n")])
    assert future.result() == 5
    assert wait_for(lambda: not {p.pid for p in psutil.Process().children(recursive=True)} - before)


def test_a_worker_that_dies_fails_the_calls_it_did_not_answer_with_a_clear_error():
    import os

    done, killed, after = in_background(
        [delayed(positive_int)(1, "n"), delayed(os._exit)(3), delayed(positive_int)(2, "n")]
    )
    assert done.result() == 1
    for future in (killed, after):
        with pytest.raises(RuntimeError, match=r"worker \(pid \d+\) stopped after 1 of 3 calls \(exit code 3"):
            future.result()


def test_a_result_that_cannot_be_sent_back_is_an_error_and_later_calls_still_run():
    import threading

    unsendable, fine = in_background([delayed(threading.Lock)(), delayed(positive_int)(2, "n")])
    with pytest.raises(RuntimeError, match="allocate_lock: its outcome cannot be sent back"):
        unsendable.result()
    assert fine.result() == 2


def test_a_call_that_cannot_be_sent_is_refused_at_once_naming_it():
    import threading

    with pytest.raises(TypeError, match=r"calls: call 2 \(positive_int\) cannot be sent to a worker process"):
        in_background([delayed(positive_int)(1, "n"), delayed(positive_int)(threading.Lock(), "n")])


class _Unrebuildable(Exception):
    """Pickles, but cannot be rebuilt: its __init__ needs two arguments and pickling keeps one."""

    def __init__(self, first, second):
        super().__init__(f"{first} {second}")


def _raise_unrebuildable(_):
    raise _Unrebuildable("a", "b")


def test_an_answer_that_cannot_be_read_fails_that_call_and_the_later_ones_clearly():
    fine, unreadable, later = in_background(
        [delayed(positive_int)(1, "n"), delayed(_raise_unrebuildable)(0), delayed(positive_int)(2, "n")]
    )
    assert fine.result() == 1
    for future in (unreadable, later):
        with pytest.raises(RuntimeError, match="answer to call 2 of 3 could not be read"):
            future.result()
