"""What the datasheet cites: the works (:data:`SOURCES`) and the table of cited statements (:data:`CITATIONS`).

Every cited line of :mod:`mnist_analysis.build.datasheet` names an entry of :data:`CITATIONS`: the
work, the place in it (a page, a section, a table, a file of a repository, or the title), and
the numbers the work states there. A cited line may hold only those numbers, written in digits
or in words (:func:`numbers_in` reads both), and an entry with numbers must say where they are,
so a reader can check each one. A number set beside a citation that does not hold it is caught
by :func:`mnist_analysis.build.datasheet.unsourced_numbers`.

The MNIST page (LeCun, Cortes and Burges) has no numbered sections: its *introduction* is the
text above its table of classifiers, its *table of classifiers* the table of test error rates.
The Hugging Face card's locators are the headings of the card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A cited work: how the datasheet names it, and the full reference."""

    short: str
    reference: str


SOURCES = {
    "gebru": Source(
        "Gebru et al. 2021",
        "T. Gebru, J. Morgenstern, B. Vecchione, J. Wortman Vaughan, H. Wallach, "
        "H. Daumé III and K. Crawford. Datasheets for Datasets. Communications of "
        "the ACM 64(12):86-92, 2021.",
    ),
    "lecun1998": Source(
        "LeCun et al. 1998",
        "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning "
        "applied to document recognition. Proceedings of the IEEE "
        "86(11):2278-2324, 1998.",
    ),
    "mnist_page": Source(
        "MNIST page",
        "Y. LeCun, C. Cortes and C. J. C. Burges. The MNIST database of handwritten "
        "digits. http://yann.lecun.com/exdb/mnist/",
    ),
    "hf_card": Source("Hugging Face card", "Hugging Face dataset card of mnist. https://huggingface.co/datasets/mnist"),
    "qmnist": Source(
        "Yadav & Bottou 2019",
        "C. Yadav and L. Bottou. Cold Case: The Lost MNIST Digits. Advances in "
        "Neural Information Processing Systems 32 (NeurIPS 2019).",
    ),
    "qmnist_repo": Source(
        "QMNIST repository",
        "facebookresearch/qmnist on GitHub: README (extended labels) and "
        "LICENSE. https://github.com/facebookresearch/qmnist",
    ),
    "grother": Source(
        "Grother 1995",
        "P. J. Grother. NIST Special Database 19: Handprinted Forms and Characters "
        "Database. National Institute of Standards and Technology, 1995.",
    ),
    "northcutt": Source(
        "Northcutt et al. 2021",
        "C. Northcutt, L. Jiang and I. Chuang. Confident learning: "
        "estimating uncertainty in dataset labels. Journal of Artificial "
        "Intelligence Research 70:1373-1411, 2021.",
    ),
}

#: How a locator may name the place of a number: page, section, table, repository file or title.
LOCATOR = re.compile(r"^(p\. |pp\. |Sec\. |section |table |introduction$|abstract$|title$|README$|LICENSE$)")


@dataclass(frozen=True)
class Citation:
    """A statement the datasheet cites: the work, the place in it, and the numbers stated there."""

    source: str  #: a key of :data:`SOURCES`
    statement: str  #: the datasheet's wording
    locator: str = ""  #: page, section, table, file or title (see :data:`LOCATOR`); required with numbers
    numbers: tuple = ()  #: every number the work states at ``locator`` that the statement may repeat

    def suffix(self) -> str:
        """The parenthesised citation that ends the line."""
        return f"({SOURCES[self.source].short}{', ' + self.locator if self.locator else ''})"


_MNIST_INTRO = {"source": "mnist_page", "locator": "introduction"}
_CARD_SUMMARY = {"source": "hf_card", "locator": "section Dataset Summary"}
_CARD_RATIONALE = {"source": "hf_card", "locator": "section Curation Rationale"}
_CARD_NORMALIZATION = {"source": "hf_card", "locator": "section Initial Data Collection and Normalization"}

CITATIONS = {
    "datasheet_sections": Citation("gebru", "The sections and their questions follow Datasheets for Datasets"),
    "mnist_from_nist": Citation(
        "lecun1998",
        "MNIST was assembled from NIST's Special Databases 3 and 1 to benchmark handwritten digit "
        "recognition on a training and a test set written by disjoint writers",
        "Sec. III-A",
        (3, 1),
    ),
    "nist_designation": Citation(
        statement="NIST had designated SD-3 as its training set and SD-1 as its test set, but SD-3 is much "
        "cleaner; MNIST mixes both in each of its sets",
        numbers=(3, 1),
        **_MNIST_INTRO,
    ),
    "qmnist_traced": Citation(
        "qmnist",
        "QMNIST reconstructed the lost part of MNIST's test pool and traced every MNIST digit to its NIST "
        "writer, which is where this datasheet's writer ids and writer groups come from",
        "abstract",
    ),
    "writer_groups": Citation(
        "grother",
        "Writer groups: NIST's handwriting sample forms were filled in by Census Bureau employees (here census) "
        "and by high-school students (here student)",
    ),
    "qmnist_extended_labels": Citation(
        "qmnist_repo", "QMNIST's extended labels give each MNIST digit's form series and writer", "README"
    ),
    "confident_learning": Citation(
        "northcutt",
        "Label errors are estimated with confident learning, which compares out-of-sample predicted "
        "probabilities with the given labels through per-class thresholds",
    ),
    "collected_among": Citation(
        statement="SD-3 was collected among Census Bureau employees and SD-1 among high-school students",
        numbers=(3, 1),
        **_MNIST_INTRO,
    ),
    "mnist_composition": Citation(
        statement="The training set took 30,000 patterns from SD-3 and 30,000 from SD-1, the test set 5,000 "
        "from each, with disjoint writers in the training and test sets",
        numbers=(30_000, 3, 1, 5_000),
        **_MNIST_INTRO,
    ),
    "normalisation": Citation(
        statement="NIST's bilevel images were size-normalised to fit a 20x20 pixel box keeping their aspect "
        "ratio, anti-aliased to grey levels, and centred in a 28x28 field by their centre of mass",
        numbers=(20, 28),
        **_MNIST_INTRO,
    ),
    "sd19": Citation(
        "grother",
        "The raw NIST forms and segmented characters are published as NIST Special Database 19",
        "title",
        (19,),
    ),
    "qmnist_regenerated": Citation(
        "qmnist",
        "QMNIST regenerated MNIST-like images from them to recover MNIST's preprocessing and its unpublished "
        "test digits",
        "abstract",
    ),
    "classifier_table": Citation(
        "mnist_page",
        "MNIST was used to compare classifiers for handwritten digit recognition, with a table of test error "
        "rates kept on its page",
        "table of classifiers",
    ),
    "four_files": Citation(
        statement="MNIST is distributed as four gzip-compressed IDX files on its page", numbers=(4,), **_MNIST_INTRO
    ),
    "qmnist_license": Citation(
        "qmnist_repo", "QMNIST's extended labels are distributed in its repository under a BSD license", "LICENSE"
    ),
    "qmnist_kept": Citation("qmnist_repo", "QMNIST's files and documentation are kept in its public repository"),
    # the claims of mnist_analysis.card_audit.CLAIMS, keyed "claim:" + their id
    "claim:total_images": Citation(statement="Claim: 70,000 images", numbers=(70_000,), **_CARD_SUMMARY),
    "claim:split_sizes": Citation(
        statement="Claim: 60,000 training and 10,000 test images", numbers=(60_000, 10_000), **_CARD_SUMMARY
    ),
    "claim:images_per_class": Citation(statement="Claim: 7,000 images per class", numbers=(7_000,), **_CARD_SUMMARY),
    "claim:images_per_class_split": Citation(
        statement="Claim: 6,000 training and 1,000 test images per class", numbers=(6_000, 1_000), **_CARD_SUMMARY
    ),
    "claim:half_census": Citation(
        statement="Claim: half written by Census Bureau employees, half by high-school students",
        numbers=(0.5,),
        **_CARD_SUMMARY,
    ),
    "claim:even_split": Citation(
        statement="Claim: the split is evenly distributed in the training and testing sets", **_CARD_SUMMARY
    ),
    "claim:train_30k_30k": Citation(
        statement="Claim: the training set has 30,000 census-employee and 30,000 student images",
        numbers=(30_000,),
        **_CARD_RATIONALE,
    ),
    "claim:test_5k_5k": Citation(
        statement="Claim: the test set has 5,000 census-employee and 5,000 student images",
        numbers=(5_000,),
        **_CARD_RATIONALE,
    ),
    "claim:disjoint_writers": Citation(
        statement="Claim: test images were drawn by different individuals than training images", **_CARD_RATIONALE
    ),
    "claim:training_writers": Citation(
        statement="Claim: the training set contains examples from approximately 250 writers",
        numbers=(250,),
        **_MNIST_INTRO,
    ),
    "claim:census_easier": Citation(
        "hf_card",
        "Claim: census employees' digits are more easily recognizable than students'",
        "section Source Data",
    ),
    "claim:box_20x20": Citation(
        statement="Claim: digits size-normalised to fit in a 20x20 pixel box", numbers=(20,), **_CARD_NORMALIZATION
    ),
    "claim:centre_of_mass": Citation(
        statement="Claim: digits centred in the 28x28 image by their centre of mass",
        numbers=(28,),
        **_CARD_NORMALIZATION,
    ),
    "claim:first_5000_from_sd3": Citation(
        statement="Claim: the first 5,000 test examples are taken from the original NIST training set (SD-3, census)",
        numbers=(5_000, 3),
        **_MNIST_INTRO,
    ),
    "claim:first_5000_easier": Citation(
        statement="Claim: the first 5,000 test examples are cleaner and easier than the last 5,000",
        numbers=(5_000,),
        **_MNIST_INTRO,
    ),
}

_UNITS = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    word: 10 * value
    for value, word in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2)
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_SHARES = {"half": 0.5, "halves": 0.5, "quarter": 0.25, "twice": 2, "double": 2, "dozen": 12}
_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[A-Za-z]+")


def numbers_in(text: str) -> list:
    """The numbers ``text`` states, in digits ("30,000", "SD-3", "20x20") or in words ("thirty thousand", "half").

    Examples
    --------
    >>> numbers_in("thirty thousand from SD-3, twenty-eight by 28 pixels, half of them")
    [30000, 3, 28, 28, 0.5]
    """
    found, current = [], None
    for token in _TOKEN.findall(text):
        word = token.lower()
        if word in _UNITS or word in _TENS:
            current = (current or 0) + _UNITS.get(word, _TENS.get(word))
            continue
        if word in _SCALES and current is not None:
            current *= _SCALES[word]
            continue
        if current is not None:
            found.append(current)
            current = None
        if token[0].isdigit():
            number = float(token.replace(",", ""))
            found.append(int(number) if number.is_integer() else number)
        elif word in _SHARES:
            found.append(_SHARES[word])
    if current is not None:
        found.append(current)
    return found
