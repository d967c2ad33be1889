"""Sphinx configuration for the eventsim documentation site.

Build it with warnings as errors (what CI does, see ``.ci/docs``)::

    python -m pip install --no-build-isolation -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs build/html
"""

import importlib.metadata
import importlib.util

project = "eventsim"
author = "the eventsim authors"
copyright = "the eventsim authors, Apache License 2.0"
try:
    release = importlib.metadata.version("eventsim")
except importlib.metadata.PackageNotFoundError:  # a source tree that is not installed
    release = "unknown"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

# The Markdown pages (README.md is the index table of the documents; index.md the landing
# page and its table of contents).
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: $...$ and $$...$$ math, and GitHub-style anchors for the pages' own tables of
# contents ("#1-overview").
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 4

# API reference: one page per module under api/ (automodule, the module's __all__),
# docstrings in numpydoc style; autosummary only draws the table of the top-level names in
# api.md (no generated files).
autosummary_generate = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# The optional extras (interchange, Dask, Optuna, tonic): their modules import them, so
# the reference is generated from the real packages where installed (CI installs every
# extra) and from stand-ins where not, so that `pip install eventsim[docs]` is enough.
autodoc_mock_imports = [
    name for name in ("nir", "h5py", "neo", "quantities", "elephant", "dask", "distributed",
                      "dask_jobqueue", "optuna", "optuna_integration", "tonic")
    if importlib.util.find_spec(name) is None]

html_theme = "alabaster"
html_title = f"eventsim {release}"
html_static_path = []
