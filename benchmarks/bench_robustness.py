"""Perturbations of the 10,000 test digits at every strength of notebook 07, and the zoo's predictions on them.

Issue 28's target: all perturbation strengths on the 10,000 test digits plus the zoo's
predictions within 240 s cold (fresh process, empty caches) and 10 s warm on 2 cores.

Timed, each in a fresh process (``common.fresh_runs``):

- ``perturbation_grid`` of the 10,000 test digits with notebook 07's grid (9 conditions
  besides the original), cold (empty caches, 2 worker processes) and warm (cache filled),
  ``--runs`` of each (default 3, medians);
- the zoo's predictions on all of them (``robustness.perturbed_predictions``: one fit per
  model on the 60,000 training digits through ``models.predict_many``, predictions of the
  10 conditions of 10,000 images) only with ``--with-predictions``: cold that is fitting the
  8 models once and predicting 10 times the test set, two models at a time as the notebook
  runs them, ``--runs`` cold processes. The total's wall and CPU seconds (this process and
  the worker processes it waited for) are recorded; with ``--per-model`` also each model's
  alone, in one more cold process. Without the flag the
  figure is estimated from the fit and predict seconds that ``results/models.json`` records
  for the plain test set (fit once, predict once per condition), and marked as not measured.

Baselines in the same run: ``morphometrics.upsample`` of the same 10,000 digits (the first
step every morphological perturbation takes), in the cold process; with ``--with-predictions``,
scikit-learn's brute-force ``KNeighborsClassifier`` beside the zoo's k-NN on raw pixels
(``neighbours.ExactNeighboursClassifier``), each fitted on the 60,000 training digits and
predicting the 10,000 test digits in the same fresh process (``--runs`` of them), with the
number of test digits whose probabilities differ (0 expected).

With ``--morpho-mnist PATH`` (a checkout of github.com/dccastro/Morpho-MNIST, run from
where it is, never copied), its ``Thinning``, ``Thickening`` and ``Fracture`` are run on
the first 200 test digits and compared with this package's: for thinning and thickening,
with the same disk radius per image (their relative amount times their thickness
estimate), the share of the upsampled binary images that agree pixel for pixel and the
median absolute difference of the measured thickness; for fractures (random places), the
pieces added and the area kept.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_robustness.py [--morpho-mnist PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fresh_runs, fresh_summary, target, write_result

#: Notebook 07's grid (main() refuses to run when the notebook's differs).
GRID = {"thin": [0, 1], "thicken": [1, 2], "swell": [3], "fracture": [3], "slant": [15, 30], "scale": [0.7]}

PERTURB = f"""
import json, time
import numpy as np
import mnist_analysis as mx
from mnist_analysis.morphometrics import upsample
from mnist_analysis.perturbations import perturbation_grid
images = np.asarray(mx.load_images("test"))
start = time.perf_counter()
conditions, stacks = perturbation_grid(images, {GRID!r}, seed=0)
grid_s = time.perf_counter() - start
start = time.perf_counter()
upsample(images)
upsample_s = time.perf_counter() - start
print(json.dumps({{"grid_s": grid_s, "upsample_s": upsample_s, "images": int(stacks.shape[0] * stacks.shape[1])}}))
"""

PREDICT = f"""
import json, resource, time
import numpy as np
import mnist_analysis as mx
from mnist_analysis.models import MODELS
from mnist_analysis.perturbations import perturbation_grid
from mnist_analysis.robustness import perturbed_predictions

def cpu():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime

start, cpu_start = time.perf_counter(), cpu()
images = np.asarray(mx.load_images("test"))
conditions, stacks = perturbation_grid(images, {GRID!r}, seed=0)
grid_s, grid_cpu_s = time.perf_counter() - start, cpu() - cpu_start
X_train, y_train = mx.load_images("train"), mx.load_labels("train")
per_model = {{}}
if ONE_AT_A_TIME:
    for name in MODELS:
        model_start, model_cpu = time.perf_counter(), cpu()
        perturbed_predictions(X_train, y_train, stacks, names=[name], seed=0)
        per_model[name] = {{"s": time.perf_counter() - model_start, "cpu_s": cpu() - model_cpu}}
else:  # as notebook 07 runs them
    perturbed_predictions(X_train, y_train, stacks, seed=0)
print(json.dumps({{
    "total_s": time.perf_counter() - start,
    "total_cpu_s": cpu() - cpu_start,
    "grid_s": grid_s,
    "grid_cpu_s": grid_cpu_s,
    "per_model": per_model,
}}))
"""

#: The zoo's k-NN against scikit-learn's brute force on the same digits, in one fresh process:
#: the first search of the process (numba compiles) timed apart from the rest.
KNN = """
import json, time
import numpy as np
import mnist_analysis as mx
from sklearn.neighbors import KNeighborsClassifier
from mnist_analysis.models import single_blas_thread
from mnist_analysis.neighbours import ExactNeighboursClassifier

def cpu():
    return time.process_time()

def timed(fit_predict):
    start, cpu_start = time.perf_counter(), cpu()
    probabilities = fit_predict()
    return probabilities, {"s": time.perf_counter() - start, "cpu_s": cpu() - cpu_start}

train = np.asarray(mx.load_images("train")).reshape(60000, -1).astype(np.float32)
labels = np.asarray(mx.load_labels("train"))
test = np.asarray(mx.load_images("test")).reshape(10000, -1).astype(np.float32)
_, first = timed(lambda: ExactNeighboursClassifier(3).fit(train[:1000], labels[:1000]).predict_proba(test[:10]))
with single_blas_thread():  # as the zoo runs every model (models.fit_predict)
    ours, ours_time = timed(lambda: ExactNeighboursClassifier(3).fit(train, labels).predict_proba(test))
    brute = KNeighborsClassifier(3, algorithm="brute")
    theirs, theirs_time = timed(lambda: brute.fit(train, labels).predict_proba(test))
print(json.dumps({
    "compile_s": first["s"],
    "ours": ours_time,
    "scikit_learn_brute": theirs_time,
    "rows_whose_probabilities_differ": int((ours != theirs).any(axis=1).sum()),
}))
"""


def notebook_grid() -> dict:
    """The grid notebook 07 assigns, read from its code."""
    import ast

    notebook = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "07_robustness.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "grid":
                    return ast.literal_eval(node.value)
    raise RuntimeError("notebook 07 assigns no grid")


def estimated_predictions() -> dict:
    """Fit once + predict each condition, per model, from ``results/models.json`` (10,000 test digits)."""
    models = json.loads((Path(__file__).resolve().parent / "results" / "models.json").read_text())
    per_model = {
        row["model"]: {"fit_s": row["fit_seconds"], "predict_10k_s": row["predict_seconds"]}
        for row in models["models_full_data"]
    }
    conditions = sum(len(v) for v in GRID.values()) + 1
    total = sum(m["fit_s"] + conditions * m["predict_10k_s"] for m in per_model.values())
    return {
        "source": f"benchmarks/results/models.json, measured {models['measured_at']} at commit {models.get('commit')}",
        "per_model": per_model,
        "conditions": conditions,
        "estimated_total_s": total,
    }


def compare_with_morpho_mnist(checkout: Path, n: int = 200) -> dict:
    """Run Morpho-MNIST's own perturbations from ``checkout`` and compare (see the module docstring)."""
    from scipy import ndimage as ndi

    import mnist_analysis as mx
    from mnist_analysis import perturbations as pt
    from mnist_analysis.morphometrics import morphometrics

    sys.path.insert(0, str(checkout))
    from morphomnist import morpho, perturb  # their code, run where it is

    images = np.asarray(mx.load_images("test")[:n])
    eight = np.ones((3, 3), bool)
    out = {"images": n}
    for name, theirs, ours_kind, amount in (
        ("thinning 0.7", perturb.Thinning(0.7), "thin", 0.7),
        ("thickening 1.0", perturb.Thickening(1.0), "thicken", 1.0),
    ):
        same, theirs_low, ours_low = [], [], []
        for image in images:
            morph = morpho.ImageMorphology(image, scale=4)
            hires = theirs(morph)
            radius = int(amount * morph.scale * morph.mean_thickness / 2.0)
            ours_mask = pt._binary(image[None])[0]
            ours_mask = pt._distance_in_slices(ours_mask[None] if ours_kind == "thin" else ~ours_mask[None])[0]
            ours_mask = ours_mask > radius if ours_kind == "thin" else ours_mask <= radius
            same.append(float((ours_mask == hires.astype(bool)).mean()))
            theirs_low.append(morph.downscale(hires))
            ours_low.append(pt.perturb(image[None], ours_kind, radius / 2, cache=False)[0])
        theirs_m = morphometrics(np.stack(theirs_low), cache=False)
        ours_m = morphometrics(np.stack(ours_low), cache=False)
        out[name] = {
            "pixels_agreeing_4x_median": float(np.median(same)),
            "pixels_agreeing_4x_min": float(np.min(same)),
            "thickness_theirs_median": float(theirs_m["thickness"].median()),
            "thickness_ours_median": float(ours_m["thickness"].median()),
            "thickness_abs_difference_median": float((theirs_m["thickness"] - ours_m["thickness"]).abs().median()),
        }
    fracture, base = [], []
    np.random.seed(0)  # noqa: NPY002 (Morpho-MNIST's reference code draws from the global generator)
    for image in images:
        morph = morpho.ImageMorphology(image, scale=4)
        fracture.append(morph.downscale(perturb.Fracture(num_frac=3)(morph)))
        base.append(morph.downscale(morph.binary_image))
    ours = pt.perturbation_grid(images, {"thin": [0], "fracture": [3]}, seed=0, cache=False)[1]
    pieces = [np.array([ndi.label(i > 127, eight)[1] for i in stack]) for stack in (base, fracture, ours[1], ours[2])]
    areas = [morphometrics(np.stack(s), cache=False)["area"].to_numpy() for s in (base, fracture, ours[1], ours[2])]
    out["fracture 3"] = {
        "pieces_added_theirs_mean": float((pieces[1] - pieces[0]).mean()),
        "pieces_added_ours_mean": float((pieces[3] - pieces[2]).mean()),
        "area_kept_theirs_median": float(np.median(areas[1] / areas[0])),
        "area_kept_ours_median": float(np.median(areas[3] / areas[2])),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--with-predictions", action="store_true", help="time the zoo's predictions cold (long)")
    parser.add_argument("--per-model", action="store_true", help="also time each model alone (one more cold run)")
    parser.add_argument("--morpho-mnist", type=Path, help="a checkout of Morpho-MNIST to compare with")
    args = parser.parse_args()
    if notebook_grid() != GRID:
        raise SystemExit(f"GRID differs from notebook 07's grid {notebook_grid()}: update the benchmark")

    cold = fresh_runs(PERTURB, runs=args.runs)
    warm = fresh_runs(PERTURB, runs=args.runs, warm=True)
    cold_grid = fresh_summary(cold, "grid_s")["median_s"]
    warm_grid = fresh_summary(warm, "grid_s")["median_s"]
    if args.with_predictions:
        predicted = fresh_runs("ONE_AT_A_TIME = False\n" + PREDICT, runs=args.runs)
        cold_total = fresh_summary(predicted, "total_s")["median_s"]
        predictions = {"measured_cold_total_s": cold_total, "cold": predicted}
        if args.per_model:
            predictions["one_model_at_a_time"] = fresh_runs("ONE_AT_A_TIME = True\n" + PREDICT, runs=1)
        note = f"measured: median of {args.runs} cold fresh processes"
        knn = fresh_runs(KNN, runs=args.runs)
        predictions["knn_pixels_against_scikit_learn"] = {
            "runs": knn,
            "ours_s": fresh_summary([r["ours"] for r in knn], "s"),
            "scikit_learn_brute_s": fresh_summary([r["scikit_learn_brute"] for r in knn], "s"),
        }
    else:
        predictions = estimated_predictions()
        cold_total = None
        note = (
            f"run with --with-predictions to measure; estimated {predictions['estimated_total_s']:.0f} s for the zoo "
            f"alone (fit once + {predictions['conditions']} predictions of 10,000 digits, from results/models.json) "
            "on top of the perturbations"
        )
    result = {
        "what": "perturbation_grid of the 10,000 test digits (notebook 07's grid), and the zoo's predictions on them",
        "grid": GRID,
        "perturbations_cold": cold,
        "perturbations_warm": warm,
        "perturbations_warm_summary": fresh_summary(warm, "grid_s"),
        "baseline_upsample_s": fresh_summary(cold, "upsample_s")["median_s"],
        "predictions": predictions,
        "targets": [
            target("perturbations, all strengths, 10,000 test digits, cold", cold_grid, unit="s"),
            target("perturbations, warm (cache filled)", warm_grid, at_most=10, unit="s"),
            target("perturbations + the zoo's predictions, cold", cold_total, at_most=240, unit="s", note=note),
        ],
    }
    if args.with_predictions:
        knn = predictions["knn_pixels_against_scikit_learn"]
        differ = max(r["rows_whose_probabilities_differ"] for r in knn["runs"])
        result["targets"] += [
            target(
                "zoo's k-NN on pixels: fit on 60,000, predict 10,000",
                knn["ours_s"]["median_s"],
                unit="s",
                note=f"test digits whose probabilities differ from scikit-learn's: {differ}",
            ),
            target(
                "baseline: scikit-learn's brute-force k-NN, the same", knn["scikit_learn_brute_s"]["median_s"], unit="s"
            ),
        ]
    if args.morpho_mnist:
        result["morpho_mnist_comparison"] = compare_with_morpho_mnist(args.morpho_mnist)
    print(write_result("robustness", result))


if __name__ == "__main__":
    main()
