"""The layers import downwards only: `constructions` (exact objects) imports neither `empirical` nor
`genproof`, and `empirical` (experiments) never imports `genproof` (measures, bounds, claims).
Inside the packages, no modules import one another in a circle: a lazy import inside a function
that closes a circle is an arrow pointing up. Every import statement counts, those inside
functions included (a module imported by name, as a registry imports its providers, is not an
import statement)."""

import ast
from pathlib import Path

import networkx as nx

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"constructions": ("empirical", "genproof"), "empirical": ("genproof",)}
FILES = sorted(p for layer in FORBIDDEN for p in (ROOT / layer).rglob("*.py"))


def imported_packages(source: str, own: str) -> set[str]:
    """The top-level package of every module that `source`, a module of package `own`, imports
    anywhere in its body (a relative import stays in `own`)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(own if node.level else node.module.partition(".")[0])
    return found


def test_imports_in_functions_and_relative_imports_are_seen():
    source = "import numpy as np\nfrom . import fit\n\n\ndef versions():\n    import genproof.rrm\n"
    assert imported_packages(source, "empirical") == {"numpy", "empirical", "genproof"}
    assert imported_packages("def f():\n    from genproof import claims\n", "empirical") == {"genproof"}


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_a_layer_imports_no_layer_above_it(path):
    layer = path.relative_to(ROOT).parts[0]
    above = sorted(set(FORBIDDEN[layer]) & imported_packages(path.read_text(), layer))
    assert not above, f"{path.relative_to(ROOT)} (in {layer}/) imports {', '.join(above)}"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for package in ("constructions", "empirical", "genproof") for p in (ROOT / package).rglob("*.py")}


def imported_modules(source: str, name: str, is_package: bool) -> set[str]:
    """The modules of this repository that `source` (module `name`) imports anywhere in its body:
    `from .x import y` names the submodule x.y when there is one, else x."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name if a.name in MODULES else a.name.rpartition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")[:None if is_package else -1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return (found & set(MODULES)) - {name}


def test_the_module_graph_sees_relative_and_lazy_imports():
    assert imported_modules("from . import backprop\nfrom .kl import kl_bound\n", "genproof.pac_bayes", True) == {
        "genproof.pac_bayes.backprop", "genproof.pac_bayes.kl"}
    assert imported_modules("def f():\n    from ..quantities import Bound\n", "genproof.pac_bayes.backprop",
                            False) == {"genproof.quantities"}
    assert imported_modules("import empirical.train\n", "empirical.robust", False) == {"empirical.train"}


def test_no_modules_import_one_another_in_a_circle():
    graph = nx.DiGraph([(name, other) for name, path in MODULES.items()
                        for other in imported_modules(path.read_text(), name, path.name == "__init__.py")])
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not circles, f"modules importing one another in a circle: {circles}"
