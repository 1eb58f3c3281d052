"""Small helpers several test modules share (test modules never import one another)."""

from __future__ import annotations


def stored_computations(monkeypatch) -> list[str]:
    """Spy on the result cache: the returned list gains the function's name each time a result is computed and stored.

    A miss computes and stores; a hit only reads. Replacing the computation itself would not do:
    the cache does not store what a monkeypatched function computes.
    """
    from mnist_analysis import stored_results

    computed: list[str] = []
    store = stored_results.write_entry

    def counted(folder, parts, result, seconds):
        computed.append(parts["function"])
        return store(folder, parts, result, seconds)

    monkeypatch.setattr(stored_results, "write_entry", counted)
    return computed
