"""The parts of sknas import each other in one direction only (DESIGN.md section 3).

Layers, each importing only those below it:

    front (sknas/__init__, estimators, __main__) > runner (with results, progress) > search > evaluation
    > space > nn, prep

Side parts (io, export, compress, plotting, report, checkpoint,
ensemble, benchmark...) may import any layer but the front, and no layer
imports them; only the front does. Every ``import`` and ``from ... import``
counts, including those inside functions and ``importlib.import_module`` of a
literal name; relative imports are resolved, and a name imported from the
``sknas`` package itself counts as an import of the part it comes from.

Run as a script on another checkout to list its upward imports::

    python tests/test_layers.py /path/to/other/sknas
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sknas"

FRONT = {"__init__", "estimators", "__main__"}
#: part -> its layer; parts of one layer import each other freely
LAYER_OF = {
    **dict.fromkeys(FRONT, "front"),
    # the search loop, the record of its trials and the progress bar it feeds
    "runner": "runner", "results": "runner", "progress": "runner",
    "search": "search",
    "evaluation": "evaluation",
    "space": "space",
    "nn": "nn",
    "prep": "prep",
}
#: a layer imports only layers of a lower rank (nn and prep, side by side, not each other)
RANK = {"front": 6, "runner": 5, "search": 4, "evaluation": 3, "space": 2, "nn": 1, "prep": 1}
SIDE = {
    "io", "export", "compress", "plotting", "inspect", "report", "checkpoint", "ensemble",
    "benchmark", "portfolio",
}

#: Upward imports that are known and owned elsewhere, each with its reason: (importing part, imported part).
#: One that no longer occurs fails the test too, so that the list only shrinks.
KNOWN = {}


def _module_parts(root, path):
    """``(package, part)`` of a file: the dotted package its relative imports start from, and its part."""
    rel = path.relative_to(root).with_suffix("")
    package = [root.name] + list(rel.parts[:-1])
    return package, rel.parts[0]


def _root_exports(root):
    """Names the package itself exports -> the part they come from (None: defined in ``__init__``)."""
    exports = {}
    tree = ast.parse((root / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                exports[alias.asname or alias.name] = node.module.split(".")[0]
    return exports


def _is_part(root, name):
    return (root / f"{name}.py").is_file() or (root / name / "__init__.py").is_file()


def _targets(node, package, root):
    """The sknas parts one import statement reaches, as ``(part, dotted name)``."""
    name = root.name
    if isinstance(node, ast.Import):
        modules = [(alias.name, ()) for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = package[: len(package) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        modules = [(module, tuple(alias.name for alias in node.names))]
    elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
          and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        modules = [(node.args[0].value, ())]
    else:
        return []
    out = []
    for module, names in modules:
        bits = module.split(".")
        if bits[0] != name:
            continue
        if len(bits) > 1:
            out.append((bits[1], module))
            continue
        # from the package itself: a submodule, or a name the package re-exports
        exports = _root_exports(root)
        for imported in names or ("__init__",):
            if _is_part(root, imported):
                out.append((imported, f"{name}.{imported}"))
            elif exports.get(imported) is not None:
                out.append((exports[imported], f"{name}.{imported}"))
    return out


def _rule(me, other):
    """Why ``me`` may not import ``other``, or None when it may."""
    if me == other or LAYER_OF.get(me, me) == LAYER_OF.get(other, other):
        return None
    for part in (me, other):
        if part not in LAYER_OF and part not in SIDE:
            return f"{part} is neither a layer nor a side part: place it in tests/test_layers.py"
    if other in FRONT:
        return None if me in FRONT else "only the front imports the front"
    if me in SIDE:
        return None
    if other in SIDE:
        return None if me in FRONT else f"{other} is a side part: only the front imports it"
    if RANK[LAYER_OF[other]] >= RANK[LAYER_OF[me]]:
        return f"{other} is not below {me}"
    return None


def upward_imports(root=PACKAGE):
    """``(file:line, importing part, imported part, dotted name, reason)`` of every import against the order."""
    root = Path(root)
    found = []
    for path in sorted(root.rglob("*.py")):
        package, me = _module_parts(root, path)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for other, module in _targets(node, package, root):
                reason = _rule(me, other)
                if reason:
                    where = f"{root.name}/{path.relative_to(root)}:{node.lineno}"
                    found.append((where, me, other, module, reason))
    return found


def _format(rows):
    return "\n".join(f"{where}: {me} imports {module} ({reason})" for where, me, other, module, reason in rows)


def test_no_part_imports_one_above_it():
    rows = upward_imports()
    unexpected = [row for row in rows if (row[1], row[2]) not in KNOWN]
    if unexpected:
        pytest.fail(f"{len(unexpected)} import(s) against DESIGN.md section 3:\n{_format(unexpected)}", pytrace=False)
    stale = set(KNOWN) - {(row[1], row[2]) for row in rows}
    if stale:
        pytest.fail(f"known exceptions that no longer occur, remove them from KNOWN: {sorted(stale)}", pytrace=False)


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path):
    root = tmp_path / "sknas"
    for folder in ("nn", "space", "search", "evaluation"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("from .estimators import Estimator\n__version__ = '1'\n")
    (root / "estimators.py").write_text("from .search import base\n")
    (root / "io.py").write_text("from . import __version__\n")
    (root / "nn" / "net.py").write_text("def build():\n    from ..space import cell\n")
    (root / "evaluation" / "__init__.py").write_text("from ..search.base import Searcher\n")
    (root / "space" / "cell.py").write_text("import importlib\nimportlib.import_module('sknas.io')\n")
    (root / "search" / "base.py").write_text("from sknas import Estimator\nfrom ..nn import net\n")
    rows = {(where, me, other) for where, me, other, _, _ in upward_imports(root)}
    assert rows == {
        ("sknas/nn/net.py:2", "nn", "space"),
        ("sknas/evaluation/__init__.py:1", "evaluation", "search"),
        ("sknas/space/cell.py:2", "space", "io"),
        ("sknas/search/base.py:1", "search", "estimators"),
    }


if __name__ == "__main__":
    rows = upward_imports(sys.argv[1] if len(sys.argv) > 1 else PACKAGE)
    print(_format(rows))
    unexpected = [row for row in rows if (row[1], row[2]) not in KNOWN]
    print(f"upward imports: {len(rows)} ({len(unexpected)} not in KNOWN)")
    sys.exit(1 if unexpected else 0)
