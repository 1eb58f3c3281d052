"""The caching wing: the result cache and the keys it stores results under.

- :mod:`~mnist_analysis.caching.cache`: ``cached_call``, the keyed result store.
- :mod:`~mnist_analysis.caching.fingerprints`: a result's key (the code closure, the library
  versions, the arguments' digest).
- :mod:`~mnist_analysis.caching.stored_results`: how a result is written to and read from disk
  (no pickles).

The import hook that records the source each module runs is
:mod:`mnist_analysis.running_code`, on the ground floor, because the package installs it on import.
"""
