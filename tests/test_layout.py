"""The package's layers (drawn in ``jetad_utils/__init__.py``): a module imports only from the
layers before its own, counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jetad_utils"

#: layer of each module, as in the package docstring; SAME_LAYER lists the imports allowed
#: within one layer
LAYERS = {
    "__init__": 0, "_core": 0, "features": 1, "metrics": 1, "losses": 1,
    "pythia_tools": 2, "gen_jets": 2, "gen_events": 2,
    "data": 3,
    "training": 4, "models": 4.5,
    "scans": 5, "sets": 5, "setvae": 5, "latent": 5, "bumphunt": 5, "ot": 5, "plotting": 5,
    "toys": 5, "widgets": 5,
    "nbtools": 6, "exercises": 6, "book": 6, "exercise_checks": 6,
}
SAME_LAYER = {("gen_jets", "pythia_tools"), ("gen_events", "pythia_tools"), ("setvae", "sets"),
              ("book", "nbtools"), ("exercises", "nbtools")}


def _package_imports(path: Path, in_subpackage: bool = False) -> set[str]:
    """Names of the package modules that ``path`` imports, relative or absolute, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "jetad_utils":
                    continue
                names = parts[1:2] or [a.name for a in node.names]
            elif in_subpackage and node.level == 1:
                continue                       # a sibling inside exercise_checks
            else:
                names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
            found.update(n for n in names if n in LAYERS)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "jetad_utils" and len(parts) > 1 and parts[1] in LAYERS:
                    found.add(parts[1])
    return found


def test_imports_are_found_at_any_depth(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("import numpy\nfrom .sets import x\nfrom . import data\n"
                    "def f():\n    from .latent import y\n    import jetad_utils.ot\n")
    assert _package_imports(path) == {"sets", "data", "latent", "ot"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.stem if path.parent == PACKAGE else path.parent.name
        yield name, path, path.parent != PACKAGE


def test_every_module_has_a_layer():
    missing = sorted({name for name, _, _ in _modules()} - set(LAYERS))
    assert not missing, f"modules without a layer in the package docstring and LAYERS: {missing}"


@pytest.mark.parametrize("name,path,sub", list(_modules()),
                         ids=[str(p.relative_to(PACKAGE)) for _, p, _ in _modules()])
def test_imports_go_down_the_layers(name, path, sub):
    wrong = sorted(dep for dep in _package_imports(path, sub) - {name}
                   if LAYERS[dep] >= LAYERS[name] and (name, dep) not in SAME_LAYER
                   and not (name == "__init__" and dep == "_core"))
    assert not wrong, (f"jetad_utils/{path.relative_to(PACKAGE)} (layer {LAYERS[name]}) imports "
                       f"{wrong} (layers {[LAYERS[d] for d in wrong]}): only earlier layers allowed")
