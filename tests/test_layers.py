"""The packages form layers and every import points down.

From the bottom: ``common`` (helpers), ``netmodel`` (topology, routing,
queue plan, dilation), ``policies`` (schedulers and the fluid allocator),
``traces``, then the backends: the emulator's parts (``controller``,
``emulator``) and the ``simulator``, which never import each other, then
``experiments`` (runs a backend over a trace, the CLI).  ``analysis`` reads
results and imports only ``common``.  Every import is counted, including
those inside functions, and no two modules may import each other, even
indirectly.
"""

import ast
import os

import pytest

from tests.helpers import REPO

LAYERS = ["common", "netmodel", "policies", "traces", "controller", "emulator", "experiments"]
ALLOWED = {pkg: set(LAYERS[:i + 1]) for i, pkg in enumerate(LAYERS)}
# the two backends: neither imports the other
ALLOWED["simulator"] = {"common", "netmodel", "policies", "traces", "simulator"}
ALLOWED["analysis"] = {"common", "analysis"}
ALLOWED["experiments"] |= {"analysis", "simulator"}
PACKAGES = set(ALLOWED)


def _modules():
    """{module name: path} for every module of the project's packages."""
    found = {}
    for pkg in PACKAGES:
        for folder, _, files in os.walk(os.path.join(REPO, pkg)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                    found[module.removesuffix(".__init__")] = path
    return found


def _imports(module, path, known):
    """Project modules ``module`` imports (the deepest known name of each)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names += [f"{base}.{alias.name}" for alias in node.names] + [base]
    out = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def test_every_import_points_down(graph):
    wrong = sorted(f"{m} imports {d}" for m, deps in graph.items() for d in deps
                   if d.split(".")[0] not in ALLOWED[m.split(".")[0]])
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_no_module_cycles(graph):
    # a package imports its own modules from __init__; its modules importing
    # the package (for a name it re-exports) is not a cycle of logic
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_layers_name_every_package():
    packages = {d for d in os.listdir(REPO) if os.path.isfile(os.path.join(REPO, d, "__init__.py"))}
    assert packages - {"tests"} == PACKAGES
