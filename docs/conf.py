"""Sphinx configuration of fastbp's documentation site.

Build (warnings are errors):  python -m sphinx -W -b html docs docs/_build/html
The gallery's examples (examples/plot_*.py) run during the build.
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))

import fastbp  # noqa: E402

project = "fastbp"
author = "the fastbp developers"
copyright = "2026, the fastbp developers"
release = version = fastbp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
# fit, transform, loss_gradient, … live on the estimators' shared base class,
# score and get_params on scikit-learn's: all are the estimators' API
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = f"fastbp {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
}

# The examples train small models: their ConvergenceWarnings are expected.
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib")
os.environ.setdefault("MPLBACKEND", "agg")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    """Methods fastbp inherits from scikit-learn (score, set_*_request, …) cite
    scikit-learn's own glossary and pages, which are not part of this site:
    their :ref: and :term: roles become plain text."""
    import re

    module = getattr(obj, "__module__", "") or ""
    if not module.startswith("sklearn"):
        return
    role = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")
    lines[:] = [role.sub(lambda m: m.group(1) or "", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
