"""The import graph runs one way: processes (child processes that end with their parent) and files at the bottom; model, datasets and geometry above it; tracking and data
above those; evaluation above them (dataset runs, metrics); train and export above evaluation (training selects
models by tracking and scoring, as evaluation does); the web app above export (it picks backends); the command line on
top. A module may import its own
package and any lower layer (lazy imports inside functions count too), never a layer above or beside it."""
import ast
from pathlib import Path

import mixformerv2

PACKAGE = Path(mixformerv2.__file__).parent
LAYERS = {"processes": 0, "files": 0.5, "geometry": 1, "datasets": 1, "model": 1, "tracking": 2, "data": 2,
          "evaluation": 3, "train": 4, "export": 4, "app": 4.5, "cli": 5, "__init__": 6, "__main__": 6}


def imported_units(path: Path):
    """(line, top-level unit of mixformerv2) for every import of the package in ``path``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[:-1]) if path.name != "__init__.py" else list(parts[:-1])
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = base + (node.module.split(".") if node.module else [])
                if not target:           # "from . import x" at the top level
                    target = [node.names[0].name]
            elif node.module and node.module.split(".")[0] == "mixformerv2":
                target = node.module.split(".")[1:] or [node.names[0].name]
            else:
                continue
            yield node.lineno, target[0]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split(".")
                if names[0] == "mixformerv2" and len(names) > 1:
                    yield node.lineno, names[1]


def test_imports_run_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = path.relative_to(PACKAGE).with_suffix("").parts[0]
        for line, target in imported_units(path):
            if target == unit or target not in LAYERS:
                continue
            if LAYERS[target] >= LAYERS[unit]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {target} (layer {LAYERS[target]}) "
                             f"from {unit} (layer {LAYERS[unit]})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_every_unit_has_a_layer():
    units = {p.relative_to(PACKAGE).with_suffix("").parts[0] for p in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), sorted(units - set(LAYERS))
