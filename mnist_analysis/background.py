"""Run package calls in a worker process while the notebook goes on.

A notebook whose longest step runs on one core (a seeded UMAP) leaves the machine's other
core idle. :func:`in_background` hands later, independent steps (morphometrics, neighbour
searches) to one worker process, in order, and returns a future per call; the notebook takes
each result where it needs it with ``future.result()``. The calls go through the result cache
as they would in the notebook (same functions, same arguments, same keys), so a warm run reads
them back, and a module-level setting the calling process changed is set in the worker too.
The worker runs at a lower priority, so that the caller's own single-threaded step, the one
that decides when the notebook ends, is not slowed by the work handed to the background.

The worker is a plain ``python`` subprocess fed pickled calls on its standard input and
answering on a pipe of its own, not a ``multiprocessing`` pool: a pool's ``spawn`` start
leaves a resource-tracker process that ignores SIGTERM, and a Jupyter kernel that has one
waits about 2.6 s at shutdown before killing it (ipykernel terminates its children
progressively). Once the last call is answered the worker has exited and been reaped, so the
caller is left with no child process. It works from a notebook and from a script alike.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass

#: Added to the worker's niceness: the calling process's own steps (the single-threaded UMAP that
#: the worker runs beside) keep their core, and the worker takes what is left.
NICENESS = 5

#: What the worker runs: the caller's import path first (a notebook's folder, a PYTHONPATH...), then the calls.
_BOOTSTRAP = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from mnist_analysis.background import _serve; _serve({answers})"
)


@dataclass(frozen=True)
class _Sent:
    """An array argument at its first call: pickled with that call, then kept by the worker."""

    token: int
    array: object


@dataclass(frozen=True)
class _Again:
    """The same array argument in a later call: the worker uses the copy it kept."""

    token: int


def _send_each_array_once(calls: list) -> list:
    """Replace every array argument after its first appearance by a token (70,000 images go once, not per call)."""
    import numpy as np

    tokens: dict = {}  # id of an array -> its token; the calls hold every array, so ids stay unique

    def wrapped(value):
        if not isinstance(value, np.ndarray):
            return value
        if id(value) in tokens:
            return _Again(tokens[id(value)])
        tokens[id(value)] = len(tokens)
        return _Sent(tokens[id(value)], value)

    return [
        (function, tuple(wrapped(a) for a in args), {k: wrapped(v) for k, v in kwargs.items()})
        for function, args, kwargs in calls
    ]


# --------------------------------------------------------------------------- the worker's side
def _serve(answers_fd: int) -> None:
    """Run the pickled calls arriving on standard input, in order; write ``(ok, value)`` for each to ``answers_fd``."""
    from .utils import _with_settings

    os.nice(NICENESS)
    received: dict = {}

    def unwrapped(value):
        if isinstance(value, _Sent):
            received[value.token] = value.array
            return value.array
        return received[value.token] if isinstance(value, _Again) else value

    with os.fdopen(answers_fd, "wb") as answers:
        while True:
            try:
                settings, function, args, kwargs = pickle.load(sys.stdin.buffer)
            except EOFError:
                return
            try:
                args = tuple(unwrapped(a) for a in args)
                kwargs = {k: unwrapped(v) for k, v in kwargs.items()}
                answer = (True, _with_settings(settings, function, args, kwargs))
            except Exception as error:  # raised where the caller takes the result
                answer = (False, error)
            try:
                message = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as error:
                message = pickle.dumps(
                    (
                        False,
                        RuntimeError(
                            f"{getattr(function, '__name__', function)!s}: its outcome cannot be sent back: {error}"
                        ),
                    )
                )
            answers.write(message)
            answers.flush()


# --------------------------------------------------------------------------- the caller's side
class _Discard:
    """A file that keeps nothing: pickling into it checks that a call can be sent, without a copy of its arrays."""

    @staticmethod
    def write(data) -> None:
        """Drop ``data`` (bytes, or a buffer of an array's memory passed as it is)."""


def _sendable(calls: list, settings: dict) -> list:
    """The calls as the worker reads them; one that cannot be pickled is refused here, naming it."""
    wrapped = _send_each_array_once(calls)
    for number, (function, args, kwargs) in enumerate(wrapped, start=1):
        try:
            pickle.Pickler(_Discard(), protocol=pickle.HIGHEST_PROTOCOL).dump((settings, function, args, kwargs))
        except Exception as error:
            name = getattr(function, "__name__", function)
            raise TypeError(f"calls: call {number} ({name}) cannot be sent to a worker process: {error}") from error
    return wrapped


def _feed(worker: subprocess.Popen, wrapped: list, settings: dict) -> None:
    """Stream the calls into the worker (in a thread: 70,000 images take a while to go through a pipe)."""
    try:
        with worker.stdin as stream:
            pickle.dump(sys.path, stream)
            for function, args, kwargs in wrapped:
                pickle.dump((settings, function, args, kwargs), stream, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        pass  # the worker died: _collect says so on every unanswered future


def _settle(future: Future, ok: bool, value) -> None:
    if future.set_running_or_notify_cancel():  # False: the caller cancelled it
        (future.set_result if ok else future.set_exception)(value)


def _collect(worker: subprocess.Popen, answers_fd: int, futures: list) -> None:
    failure, done = None, 0
    with os.fdopen(answers_fd, "rb") as answers:
        for done, future in enumerate(futures):
            try:
                ok, value = pickle.load(answers)
            except EOFError:
                failure = RuntimeError(
                    f"the background worker (pid {worker.pid}) stopped after {done} of {len(futures)} calls "
                    f"(exit code {worker.wait()}); its error output is the kernel's or terminal's"
                )
                break
            except Exception as error:  # an answer this process cannot rebuild; the stream is lost from here
                failure = RuntimeError(
                    f"the background worker's answer to call {done + 1} of {len(futures)} could not be read "
                    f"({type(error).__name__}: {error}); the calls after it are lost with it"
                )
                break
            _settle(future, ok, value)
    for left in futures[done:] if failure else []:
        _settle(left, False, failure)
    worker.wait()  # reaped: the caller keeps no child process (a kernel then shuts down at once)


def in_background(calls) -> list:
    """Start joblib ``delayed`` calls, one after another, in one fresh worker process.

    Parameters
    ----------
    calls : iterable of ``joblib.delayed(function)(*args, **kwargs)``
        Module-level functions of the package (the worker imports them by name) and
        picklable arguments. An array passed to several calls is sent to the worker once.

    Returns
    -------
    list of concurrent.futures.Future
        One per call, in order: ``result()`` waits for it and returns its value, or raises
        what it raised. The worker runs at a lower priority (:data:`NICENESS`) and exits once
        the last call is done.

    Examples
    --------
    >>> from joblib import delayed
    >>> from mnist_analysis.validation import positive_int
    >>> [future.result() for future in in_background([delayed(positive_int)(3, "n"), delayed(positive_int)(4, "n")])]
    [3, 4]
    """
    from .running_code import settings_as_imported

    calls = list(calls)
    for call in calls:
        if not (isinstance(call, tuple) and len(call) == 3 and callable(call[0])):
            raise TypeError(f"calls: expected joblib delayed calls (function, args, kwargs), found {call!r}")
    settings = settings_as_imported()
    wrapped = _sendable(calls, settings)
    read_end, write_end = os.pipe()
    try:
        worker = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP.format(answers=write_end)], stdin=subprocess.PIPE, pass_fds=(write_end,)
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)  # the worker holds it now: the answers end when the worker does
    futures = [Future() for _ in calls]
    threading.Thread(target=_feed, args=(worker, wrapped, settings), daemon=True, name="background-feed").start()
    threading.Thread(target=_collect, args=(worker, read_end, futures), daemon=True, name="background-collect").start()
    return futures
