"""The documentation site builds from the sources with warnings as errors.

Sphinx (pydata-sphinx-theme, numpydoc, myst, sphinx-gallery) builds docs/
into a temporary folder, running every gallery example; the test then looks
at what a reader gets: every page of the table of contents, the API pages,
the gallery's images, and a search index that knows MLPClassifier.
(docs/tools/check_site.py checks the same site in a real browser.)
"""

import json
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("sphinx")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ["index", "getting-started", "from-sklearn", "user-guide", "usage", "command",
         "model-files", "guide", "backprop", "performance", "api", "auto_examples/index"]
EXAMPLES = ["plot_loss_curves", "plot_speed", "plot_activations", "plot_graph_trace",
            "plot_dask", "plot_onnx"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    work = tmp_path_factory.mktemp("doctrees")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(work), str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


def test_every_page_is_built(site):
    for page in PAGES:
        html = (site / f"{page}.html").read_text(encoding="utf-8")
        assert "<main" in html and len(re.sub(r"<[^>]+>", "", html)) > 1500, page


def test_api_reference_documents_the_public_names(site):
    page = (site / "generated" / "fastbp.MLPClassifier.html").read_text(encoding="utf-8")
    for method in ("fit", "predict_proba", "transform", "loss_gradient", "to_sklearn",
                   "from_sklearn", "partial_fit", "score"):
        assert f"MLPClassifier.{method}" in page, method
    for name in ("fastbp.save", "fastbp.load", "fastbp.onnx.to_onnx",
                 "fastbp.dask.DaskMLPClassifier", "fastbp.graph.trace"):
        assert (site / "generated" / f"{name}.html").exists(), name


def test_gallery_examples_ran_and_drew(site):
    gallery = (site / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for example in EXAMPLES:
        assert f"{example}.html" in gallery
        images = list((site / "_images").glob(f"sphx_glr_{example}_0*.png"))
        assert images and all(image.stat().st_size > 5000 for image in images), example


def test_search_index_finds_mlpclassifier(site):
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    assert any("MLPClassifier" in title for title in index["titles"])
    assert "mlpclassifi" in index["terms"]
