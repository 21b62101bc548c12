"""The package's shape: layers that import only the layers beneath them, no
import circles, and imports inside functions only where they say why."""

import ast
import os

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "pyimagesearch")
# bottom to top: a module may import its own layer and the ones before it
LAYERS = ["shared", "data", "sampling", "quality", "sharing", "training"]


def modules():
    """{dotted name: path} of every module of the package."""
    found = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


def imported(name, path):
    """(the package's modules `name` imports, line numbers of imports inside
    functions that have no comment on their line)."""
    source = open(path).read()
    tree, lines = ast.parse(source), source.splitlines()
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    targets, uncommented = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets |= {base} | {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and "#" not in lines[node.lineno - 1]:
                    uncommented.append(node.lineno)
    return {t for t in targets if t in modules()}, uncommented


def layer(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "shared"


def test_each_layer_imports_only_the_layers_beneath_it():
    wrong = [(name, target) for name, path in modules().items()
             for target in imported(name, path)[0]
             if LAYERS.index(layer(target)) > LAYERS.index(layer(name))]
    assert wrong == []


def test_no_import_circles():
    graph = {name: imported(name, path)[0] - {name} for name, path in modules().items()}

    def reaches(start, goal, seen):
        return any(t == goal or (t not in seen and reaches(t, goal, seen | {t}))
                   for t in graph[start])

    assert [name for name in graph if reaches(name, name, {name})] == []


def test_imports_inside_functions_say_why():
    bare = {name: lines for name, path in modules().items()
            if (lines := imported(name, path)[1])}
    assert bare == {}
