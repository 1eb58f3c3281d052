"""Run package calls in a worker process while the notebook goes on.

A notebook whose longest step runs on one core (a seeded UMAP) leaves the machine's other
core idle. :func:`in_background` hands later, independent steps (morphometrics, neighbour
searches) to one worker process, in order, and returns a future per call; the notebook takes
each result where it needs it with ``future.result()``. The calls go through the result cache
as they would in the notebook (same functions, same arguments, same keys), so a warm run reads
them back, and a module-level setting the calling process changed is set in the worker too.
The worker runs at a lower priority, so that the caller's own single-threaded step, the one
that decides when the notebook ends, is not slowed by the work handed to the background.

The worker is started with ``spawn``: from a notebook that just works; a script that calls
:func:`in_background` must do so under ``if __name__ == "__main__":``, as for any
``multiprocessing`` pool, or the worker fails to start (``BrokenProcessPool``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Added to the worker's niceness: the calling process's own steps (the single-threaded UMAP that
#: the worker runs beside) keep their core, and the worker takes what is left.
NICENESS = 5


def _lower_priority() -> None:
    os.nice(NICENESS)


@dataclass(frozen=True)
class _Sent:
    """An array argument at its first call: pickled with that call, then kept by the worker."""

    token: int
    array: object


@dataclass(frozen=True)
class _Again:
    """The same array argument in a later call: the worker uses the copy it kept."""

    token: int


#: The worker's copies of the arrays sent so far, by token (the worker runs the calls in order).
_RECEIVED: dict = {}


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


def _received(value):
    if isinstance(value, _Sent):
        _RECEIVED[value.token] = value.array
        return value.array
    return _RECEIVED[value.token] if isinstance(value, _Again) else value


def _run_call(settings: dict, function, args, kwargs):
    from .utils import _with_settings

    args = tuple(_received(a) for a in args)
    kwargs = {k: _received(v) for k, v in kwargs.items()}
    return _with_settings(settings, function, args, kwargs)


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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .running_code import settings_as_imported

    calls = list(calls)
    for call in calls:
        if not (isinstance(call, tuple) and len(call) == 3 and callable(call[0])):
            raise TypeError(f"calls: expected joblib delayed calls (function, args, kwargs), found {call!r}")
    settings = settings_as_imported()
    executor = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
    )
    try:
        futures = [executor.submit(_run_call, settings, *call) for call in _send_each_array_once(calls)]
    finally:
        executor.shutdown(wait=False)  # the queued calls still run; then the worker exits
    return futures
