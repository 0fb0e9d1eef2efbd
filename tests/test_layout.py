"""The package's shape: no import cycles outside the engine, and modules of one readable size."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
ENGINE = "nablanet.autodiff"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in (SOURCE / "nablanet").rglob("*.py")}


def _imported_at_import_time(name: str, path: Path) -> set:
    """The nablanet modules ``name`` imports when it is itself imported (not inside functions,
    not under ``if TYPE_CHECKING``): an edge of the import graph."""
    is_package = path.name == "__init__.py"
    found = set()

    def visit(statements):
        for statement in statements:
            if isinstance(statement, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(statement.test):
                    visit(statement.body)
                    visit(statement.orelse)
            elif isinstance(statement, ast.Try):
                visit(statement.body)
                for handler in statement.handlers:
                    visit(handler.body)
                visit(statement.orelse)
                visit(statement.finalbody)
            elif isinstance(statement, ast.Import):
                found.update(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom):
                base = statement.module or ""
                if statement.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[:len(package) - statement.level + 1]
                    base = ".".join(package + ([statement.module] if statement.module else []))
                for alias in statement.names:
                    submodule = f"{base}.{alias.name}"
                    found.add(submodule if submodule in MODULES else base)

    visit(ast.parse(path.read_text()).body)
    return {module for module in found if module in MODULES}


def _cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for successor in edges:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def test_no_import_cycles_outside_the_engine():
    graph = {name: _imported_at_import_time(name, path) for name, path in MODULES.items()}
    outside = [component for component in _cycles(graph)
               if any(module != ENGINE and not module.startswith(ENGINE + ".") for module in component)]
    assert outside == [], f"import cycles outside {ENGINE}: {outside}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


# The "about 600 lines": a module a reader takes in at one sitting. The engine's op families
# (autodiff/ops/) are tables of rules, one op after another, and are held to their family instead.
MOST_LINES = 650


def test_no_module_outside_the_engine_is_longer_than_a_sitting():
    long = {name: lines for name, path in MODULES.items()
            if not (name == ENGINE or name.startswith(ENGINE + "."))
            and (lines := len(path.read_text().splitlines())) > MOST_LINES}
    assert long == {}, f"modules over {MOST_LINES} lines: {long}"
