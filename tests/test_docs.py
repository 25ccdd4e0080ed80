"""The documentation: its API reference names every public part, and (slow) it builds with warnings as errors."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sknas.search.base import SEARCHERS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Public parts that are not searchers: (module documented by the API page, object the page must show)
PUBLIC = [
    ("sknas.search.predictor_filter", "PredictorFilter"),
    ("sknas.evaluation.predictor", "SurrogatePredictor"),
    ("sknas.benchmark.tabulated", "TabularBenchmark"),
    ("sknas.compress", "prune"),
    ("sknas.compress", "prune_to"),
    ("sknas.plotting", "plot_search_history"),
    ("sknas.plotting", "plot_pareto_front"),
    ("sknas.plotting", "plot_genotype"),
    ("sknas.plotting", "genotype_graphs"),
    ("sknas.plotting", "plot_learning_curves"),
    ("sknas.plotting", "plot_decision_importance"),
    ("sknas.inspect", "decision_importance"),
    ("sknas.inspect", "marginal"),
    ("sknas.prep.text", "TextEncoder"),
    ("sknas.prep.images", "ImageScaler"),
    ("sknas.export", "onnx_inputs"),
    ("sknas.progress", "SearchProgress"),
    ("sknas.__main__", "main"),
]


def _searchers():
    return [tuple(target.split(":")) for target in SEARCHERS.values()]


def _documented():
    """The targets of the API page's autodoc directives (modules, classes, functions)."""
    text = (DOCS / "api.rst").read_text()
    return set(re.findall(r"^\.\. auto(?:module|class|function):: (\S+)", text, flags=re.M))


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_the_api_page_documents_every_registered_searcher(name):
    module, cls = SEARCHERS[name].split(":")
    assert hasattr(importlib.import_module(module), cls), SEARCHERS[name]
    documented = _documented()
    assert module in documented or f"{module}.{cls}" in documented, (
        f"search={name!r} ({module}.{cls}) is registered in sknas.search.base.SEARCHERS but not in docs/api.rst")


def test_the_api_page_covers_every_public_part():
    documented = _documented()
    for module, name in PUBLIC:
        assert hasattr(importlib.import_module(module), name), (module, name)
        assert module in documented or f"{module}.{name}" in documented, f"{module}.{name} is not in docs/api.rst"
    assert "sknas.report" in documented and "sknas.AutoNASClassifier" in documented


def test_the_readme_gives_the_low_fidelity_threshold_the_code_uses():
    from sknas.estimators import ROWS_PER_BUDGET_SECOND

    formula = f"max(2000, {ROWS_PER_BUDGET_SECOND} * time_budget)"
    assert formula in (ROOT / "README.md").read_text()
    assert f"max(2000, {ROWS_PER_BUDGET_SECOND} * B)" in (DOCS / "user_guide" / "budget.rst").read_text()


@pytest.mark.slow
def test_the_docs_build_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("matplotlib")
    out = tmp_path / "html"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    # run_stale_examples: execute the gallery even where an earlier build cached its results
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-D", "sphinx_gallery_conf.run_stale_examples=1", str(DOCS), str(out)],
                          capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    api = (out / "api.html").read_text()
    for module, name in _searchers() + PUBLIC:
        assert f'id="{module}.{name}"' in api, f"{module}.{name} has no entry in the built API page"
    assert 'id="sknas.report"' in api
    cli = (out / "_generated" / "cli.html").read_text()
    for command in ("fit", "predict", "show", "export", "report", "demo"):
        assert f"sknas {command}" in cli
    settings = (out / "user_guide" / "choose_settings.html").read_text()
    assert "hyperband" in settings and "1.42x" in settings
    assert (out / "auto_examples" / "index.html").exists()  # the gallery ran
