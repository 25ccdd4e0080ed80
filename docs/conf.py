"""Sphinx configuration of the sknas documentation.

Build with ``python -m sphinx -b html docs docs/_build/html`` (``pip install sphinx
sphinx-gallery matplotlib``). The examples gallery is made from ``examples/`` by
sphinx-gallery when it is installed; without it the examples are listed as plain
scripts. ``SKNAS_DOCS_RUN_EXAMPLES=0`` shows the gallery without running it.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import sknas  # noqa: E402

project = "sknas"
author = "the sknas developers"
copyright = "the sknas developers"
version = release = sknas.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autosummary_generate = False

templates_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints", "benchmarks/*.md"]
html_theme = "alabaster"
html_title = f"sknas {version}"

# -- the examples gallery ------------------------------------------------------------------
try:
    import sphinx_gallery  # noqa: F401

    HAS_GALLERY = True
except ImportError:
    HAS_GALLERY = False

if HAS_GALLERY:
    extensions.append("sphinx_gallery.gen_gallery")
    sphinx_gallery_conf = {
        "examples_dirs": str(ROOT / "examples"),
        "gallery_dirs": "auto_examples",
        "filename_pattern": r"/plot_",
        "plot_gallery": os.environ.get("SKNAS_DOCS_RUN_EXAMPLES", "1") != "0",
        "download_all_examples": False,
        "remove_config_comments": True,
        "matplotlib_animations": False,
    }


def _write_generated_pages(app):
    """Pages made at build time: the benchmark tables and, without sphinx-gallery, the examples list."""
    out = HERE / "_generated"
    out.mkdir(exist_ok=True)
    lines = ["Benchmarks", "==========", "",
             "Tables and plots written by the scripts in ``benchmarks/`` (rerun them to refresh).", ""]
    found = False
    for folder in (HERE / "benchmarks", ROOT / "benchmarks" / "results"):
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            rel = os.path.relpath(path, out)
            if path.suffix in (".md", ".txt", ".csv"):
                found = True
                lines += [path.name, "-" * len(path.name), "", f".. literalinclude:: {rel}", "   :language: text", ""]
            elif path.suffix == ".png":
                found = True
                lines += [path.name, "-" * len(path.name), "", f".. image:: {rel}", "   :width: 90%", ""]
    if not found:
        lines += ["No benchmark results have been written yet."]
    (out / "benchmarks.rst").write_text("\n".join(lines) + "\n")
    ex = ["Examples", "========", ""]
    if HAS_GALLERY:
        ex += ["Short scripts, each run when the documentation is built.", "",
               ".. toctree::", "   :maxdepth: 2", "", "   ../auto_examples/index", ""]
    else:
        ex += ["sphinx-gallery is not installed; the example scripts of ``examples/``:", ""]
        for path in sorted((ROOT / "examples").glob("*.py")):
            ex += [path.name, "-" * len(path.name), "",
                   f".. literalinclude:: {os.path.relpath(path, out)}", "   :language: python", ""]
    (out / "examples.rst").write_text("\n".join(ex) + "\n")


def _write_cli_page(out):
    """The command line's reference, from its own argparse help (so it cannot drift from the code)."""
    import argparse

    from sknas.__main__ import build_parser

    parser = build_parser()
    lines = ["Command line", "============", "",
             "``sknas`` (or ``python -m sknas``) fits, predicts, shows, exports and reports models from",
             "the shell. Errors are one line on standard error with a non-zero exit status",
             "(``--traceback`` shows the Python traceback instead). The help of every command:", "",
             ".. code-block:: text", ""]
    lines += ["   " + line for line in parser.format_help().splitlines()]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        title = f"sknas {name}"
        lines += ["", title, "-" * len(title), "", ".. code-block:: text", ""]
        lines += ["   " + line for line in sub.format_help().splitlines()]
    (out / "cli.rst").write_text("\n".join(lines) + "\n")


def _skip_member(app, what, name, obj, skip, options):
    # sklearn's metadata-routing setters (set_fit_request...) are generated per class and
    # refer to sklearn's own glossary: not part of sknas's API
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _write_generated_pages)
    app.connect("builder-inited", lambda app: _write_cli_page(HERE / "_generated"))
    app.connect("autodoc-skip-member", _skip_member)
