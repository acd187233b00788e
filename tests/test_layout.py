"""The layout keeps data flowing one way: the import graph of debforge's modules has no circle, no stage imports a
stage above it (a backend never reads BUILD files, a frontend never writes), and no module imports another's
private name."""

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "debforge"
# stage -> the stages it must not import
FORBIDDEN = {
    "core": {"recipe", "upstream", "frontends", "graph", "plan", "backends", "drivers", "pipeline", "cli", "flavors"},
    "recipe": {"upstream", "frontends", "graph", "plan", "backends", "drivers", "pipeline", "cli"},
    "upstream": {"frontends", "graph", "plan", "backends", "pipeline", "cli"},
    "frontends": {"upstream", "plan", "backends", "drivers", "pipeline", "cli"},
    "graph": {"upstream", "frontends", "plan", "backends", "drivers", "pipeline", "cli"},
    "plan": {"upstream", "frontends", "backends", "drivers", "pipeline", "cli"},
    "backends": {"upstream", "frontends", "drivers", "pipeline", "cli"},
    "drivers": {"frontends", "plan", "backends", "pipeline", "cli"},
}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports() -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported module, imported name or "")}."""
    mods = modules()
    out: dict[str, set[tuple[str, str]]] = {}
    for mod, path in mods.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        found = out.setdefault(mod, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("debforge")):
                base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add((sub, "") if sub in mods else (target, alias.name))
            elif isinstance(node, ast.Import):
                found |= {(a.name, "") for a in node.names if a.name.startswith("debforge")}
    return out


def stage(mod: str) -> str:
    return mod.split(".")[1] if mod.count(".") else mod


def test_no_import_circles():
    graph = {m: {t for t, _ in ts if t != m} for m, ts in imports().items()}
    done: set[str] = set()

    def visit(m, path):
        assert m not in path, "import circle: " + " -> ".join(path[path.index(m):] + [m])
        if m in done:
            return
        for t in graph.get(m, ()):
            visit(t, path + [m])
        done.add(m)
    for m in graph:
        visit(m, [])


def test_no_stage_imports_one_above_it():
    wrong = [f"{m} imports {t}" for m, ts in imports().items() for t, _ in ts
             if stage(t) in FORBIDDEN.get(stage(m), ())]
    assert not wrong


def test_no_module_imports_a_private_name():
    wrong = [f"{m} imports {t}.{name}" for m, ts in imports().items() for t, name in ts
             if name.startswith("_") and not name.startswith("__") and t != m]
    assert not wrong
