"""Croissant (MLCommons) metadata for MNIST with QMNIST writer provenance.

:func:`write_croissant` writes a folder that describes itself:

- ``raw/``: a byte-for-byte copy of each of the six registered files, as found (see
  :mod:`mnist_analysis.data.sources`; verified against the pinned hash first);
- ``mnist-records.parquet``: one row per image, columns ``split``, ``index``, ``label``,
  ``writer_id``, ``writer_group`` and ``image`` (a 28x28 greyscale PNG), made from the raw files
  by :func:`mnist_analysis.load_frame` and :func:`mnist_analysis.load_images`;
- ``croissant.json``: the Croissant 1.0 JSON-LD. Its ``distribution`` lists the six raw files and
  the Parquet file, each with its SHA-256; its record set ``images`` has one record per image.

Why a Parquet companion: Croissant readers (``mlcroissant``) read CSV, JSON, Parquet, images and
a few other formats, but not IDX, MNIST's own format. The raw IDX files are still described
(``cr:FileObject`` with their hashes), so a reader can check that the Parquet rows come from them.

Which SHA-256: Croissant's ``sha256`` is the hash of the file *as distributed*, so each entry
carries the hash of the exact bytes copied into ``raw/`` (gzip-compressed when the file was
found gzip'd). :mod:`mnist_analysis.data.registry` pins instead the hash of the *decompressed*
content, which every copy of a file shares; the description of each file states that hash too.
The two differ in kind, and the compressed bytes of a copy may differ from a mirror's archive
(for example a recompressed ``.gz``), so ``contentUrl`` names the local copy and the mirror is
named in the description only.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..utils import atomic_output, atomic_write_bytes, sha256_of_file

METADATA_NAME = "croissant.json"
RECORDS_NAME = "mnist-records.parquet"
RAW_FOLDER = "raw"
RECORD_SET = "images"
#: Columns of the Parquet companion, in order, with their Croissant data types.
RECORD_FIELDS = {
    "split": ("sc:Text", "'train' or 'test'"),
    "index": ("sc:Integer", "position of the image within its split, in MNIST's native order"),
    "label": ("sc:Integer", "the digit, 0-9"),
    "writer_id": ("sc:Integer", "NIST writer id, from QMNIST's extended labels"),
    "writer_group": (
        "sc:Text",
        "'census' (NIST HSF series 0-3, Census Bureau employees) or 'student' (series 4, high-school students)",
    ),
    "image": ("sc:ImageObject", "28x28 greyscale PNG; pixel 0 is background, 255 full ink"),
}
CITATIONS = (
    "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to document recognition. "
    "Proceedings of the IEEE, 86(11):2278-2324, 1998. "
    "C. Yadav and L. Bottou. Cold Case: The Lost MNIST Digits. Advances in Neural Information Processing "
    "Systems 32 (NeurIPS 2019)."
)
#: The JSON-LD context of Croissant 1.0 (the standard one, which readers compare against).
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def png_bytes(images) -> list[bytes]:
    """Encode ``(n, height, width)`` uint8 images as greyscale PNG files (one ``bytes`` each).

    Examples
    --------
    >>> from PIL import Image
    >>> image = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    >>> encoded = png_bytes(image)
    >>> np.array_equal(np.asarray(Image.open(io.BytesIO(encoded[0]))), image[0])
    True
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"images: expected uint8 images of shape (n, height, width), found {images.dtype} "
            f"array of shape {images.shape}"
        )
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return encoded


def records_frame(*, data_dir=None) -> pd.DataFrame:
    """One row per MNIST image (training images, then test images) with the :data:`RECORD_FIELDS` columns."""
    from ..data.loaders import load_frame, load_images

    frame = load_frame("all", data_dir=data_dir)
    records = pd.DataFrame(
        {
            "split": frame["split"].astype(str).to_numpy(),
            "index": frame["index"].to_numpy(np.int64),
            "label": frame["label"].to_numpy(np.int64),
            "writer_id": frame["writer_id"].to_numpy(np.int64),
            "writer_group": frame["writer_group"].astype(str).to_numpy(),
        }
    )
    records["image"] = png_bytes(load_images("all", data_dir=data_dir))
    return records


def _file_object(identifier, content_url, sha256, encoding, description):
    return {
        "@type": "cr:FileObject",
        "@id": identifier,
        "name": identifier,
        "description": description,
        "contentUrl": content_url,
        "encodingFormat": encoding,
        "sha256": sha256,
    }


def croissant_metadata(raw_files, records_sha256: str) -> dict:
    """Return the Croissant JSON-LD (a dict) for ``raw_files`` and the Parquet companion.

    Parameters
    ----------
    raw_files : list of (DataFile, str, str, str)
        For each registered file: its :class:`~mnist_analysis.data.registry.DataFile`, its path
        relative to the metadata file, the SHA-256 of those bytes and where it was found.
    records_sha256 : str
        SHA-256 of the Parquet file.
    """
    distribution = []
    for spec, relative, sha256, origin in raw_files:
        compressed = relative.endswith(".gz")
        distribution.append(
            _file_object(
                spec.key,
                relative,
                sha256,
                "application/gzip" if compressed else "application/octet-stream",
                f"{spec.filename}: IDX array {'x'.join(map(str, spec.shape))} of {spec.dtype}"
                f"{', gzip-compressed' if compressed else ', uncompressed'}; copied as found (origin: {origin}). "
                f"sha256 is of this file's bytes; the SHA-256 of its decompressed content, pinned by mnist-analysis, "
                f"is {spec.sha256}. Distributed at {spec.urls()[0]} "
                "(a mirror's archive may be compressed differently).",
            )
        )
    distribution.append(
        _file_object(
            "records",
            RECORDS_NAME,
            records_sha256,
            "application/x-parquet",
            "One row per image, made from the six raw files by mnist-analysis (load_frame and load_images): "
            "MNIST images and labels joined with QMNIST writer provenance. Images are PNG-encoded.",
        )
    )
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"{RECORD_SET}/{name}",
            "name": name,
            "description": description,
            "dataType": data_type,
            "source": {"fileObject": {"@id": "records"}, "extract": {"column": name}},
        }
        for name, (data_type, description) in RECORD_FIELDS.items()
    ]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": "MNIST with QMNIST writer provenance",
        "description": (
            "The MNIST database of handwritten digits (60,000 training and 10,000 test images, 28x28 "
            "greyscale) with each image's writer and writer group from the QMNIST extended labels. "
            "Written by mnist-analysis from locally verified copies of the six source files."
        ),
        "url": "http://yann.lecun.com/exdb/mnist/",
        "citeAs": CITATIONS,
        "datePublished": "1998",
        "distribution": distribution,
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": RECORD_SET,
                "name": RECORD_SET,
                "description": (
                    "One record per MNIST image: its split, index, label, writer id, writer group and image."
                ),
                "key": [{"@id": f"{RECORD_SET}/split"}, {"@id": f"{RECORD_SET}/index"}],
                "field": fields,
            }
        ],
    }


def write_croissant(output_dir="croissant", *, data_dir=None) -> dict:
    """Write ``raw/``, the Parquet companion and ``croissant.json`` into ``output_dir``.

    Every file is written through a temporary file and renamed into place, the metadata last,
    so an interrupted run leaves earlier files whole. Each source file is verified against its
    pinned hash (:func:`mnist_analysis.data.sources.fetch`, which downloads it if it is missing).

    Returns
    -------
    dict
        ``{"metadata": Path, "records": Path, "raw": [Path, ...]}``.
    """
    from ..data.registry import REGISTRY
    from ..data.sources import fetch

    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"output: {output_dir} is a file, expected a folder for the Croissant files")
    located = {key: fetch(key, data_dir=data_dir, progressbar=False) for key in REGISTRY}
    (output_dir / RAW_FOLDER).mkdir(parents=True, exist_ok=True)
    raw_files, raw_paths = [], []
    for key, spec in REGISTRY.items():
        source = located[key].path
        target = output_dir / RAW_FOLDER / source.name
        if not (target.is_file() and target.resolve() == source.resolve()):
            with atomic_output(target) as tmp:
                shutil.copyfile(source, tmp)
        raw_files.append((spec, f"{RAW_FOLDER}/{source.name}", sha256_of_file(target), located[key].origin))
        raw_paths.append(target)
    records_path = output_dir / RECORDS_NAME
    with atomic_output(records_path) as tmp:
        records_frame(data_dir=data_dir).to_parquet(tmp, index=False)
    metadata = croissant_metadata(raw_files, sha256_of_file(records_path))
    metadata_path = output_dir / METADATA_NAME
    atomic_write_bytes(metadata_path, (json.dumps(metadata, indent=2) + "\n").encode("utf-8"))
    return {"metadata": metadata_path, "records": records_path, "raw": raw_paths}
