"""The data wing: reading, locating, verifying and downloading MNIST and QMNIST, and the loaders.

- :mod:`~mnist_analysis.data.idx`: the IDX file format (parse, encode, write).
- :mod:`~mnist_analysis.data.registry`: every file the project knows, with its size and SHA-256.
- :mod:`~mnist_analysis.data.checksums`: verifying a copy against the registry.
- :mod:`~mnist_analysis.data.downloads`: fetching a file from its mirrors.
- :mod:`~mnist_analysis.data.sources`: locating a verified copy (data folder, cache, download).
- :mod:`~mnist_analysis.data.loaders`: ``load_images``, ``load_labels``, ``load_frame``, ...
  (also importable from the package itself: ``mx.load_frame``).

The data wing imports the ground floor (:mod:`~mnist_analysis.locations`,
:mod:`~mnist_analysis.validation`, :mod:`~mnist_analysis.utils`) and nothing above it.
"""
