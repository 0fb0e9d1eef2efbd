"""Sphinx configuration of nablanet's documentation site: ``sphinx-build -W docs docs/_build/html``.

The pages: the Markdown guides in this folder (MyST), the how-to pages (``docs/how-to/``), the API
reference from the docstrings (``docs/api/``, autodoc with napoleon for their Google style), and two
galleries that sphinx-gallery runs at build time: ``tutorials/*.py`` (the notes in order) and
``examples/*.py`` (the demos). Every example and tutorial executes during the build; one that raises
(a tutorial asserts the claim it teaches) fails the build.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))  # gallery_support, api_coverage: this site's own extensions

import nablanet  # noqa: E402  (after the path: the extensions import it too)

project = "nablanet"
author = "the nablanet developers"
copyright = "the nablanet developers"
release = version = nablanet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 served from _static: the site renders math with no network
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "plain_docstrings",
    "api_coverage",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# Quotes and apostrophes typeset, but no dashes: "--out" in a usage line stays two hyphens.
smartquotes_action = "qe"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "tutorials/*.ipynb", "gallery/*.ipynb"]

# --- Markdown (MyST) ---------------------------------------------------------------------------------
# $...$ and $$...$$ are MathJax math in Markdown pages; headings get anchors so pages link to sections.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- API reference (autodoc + napoleon) ---------------------------------------------------------------
# The docstrings are Google style (Args:, Returns:, Example:), with a Shape: section of ours (PyTorch's).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Shape", "notes_style")]
napoleon_use_rtype = False
napoleon_use_ivar = True  # Attributes: as fields of the class, not objects of their own (coef_ is also a property)
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
autodoc_inherit_docstrings = True  # a layer's forward is documented by Module.forward's docstring
add_module_names = False

# --- galleries (sphinx-gallery) ------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../tutorials", "../examples"],
    "gallery_dirs": ["tutorials", "gallery"],
    "filename_pattern": r".*\.py$",  # execute every script, not only plot_*.py
    "within_subsection_order": "FileNameSortKey",  # tutorials/01_..., 02_...: the notes' order
    "reset_argv": "gallery_support.reset_argv",  # the demos' --quick runs, writing into a folder we scrape
    "image_scrapers": ("matplotlib", "gallery_support.demo_png_scraper"),
    "reset_modules": ("matplotlib", "gallery_support.reset_seed"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "ignore_repr_types": r"matplotlib[\.\w]*|NoneType",
}

# --- HTML ---------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"nablanet {version}"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 4,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = True
html_context = {"default_mode": "light"}

