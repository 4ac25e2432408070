"""The layout's rules, read from the source with `ast` (no module is imported):

- no import cycle among the project's own modules (imports inside functions and
  `TYPE_CHECKING` blocks count: they are the cycles that hide), nor among its packages
  (`audit` and `evaluation`; `strategist.auth` and `strategist.analysis`);
- the app (`strategist`) imports no service's internals; `services.common` and `core` are shared;
- no production module imports `tests`;
- no production module is over 400 lines.

`docs/architecture.md` draws the map these rules keep true.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_PACKAGES = (
    "schemas", "core", "providers", "services", "strategist", "emulator",
    "audit", "evaluation", "bench", "chaos", "demo", "harness",
)
SHARED_SERVICE_PACKAGES = ("services.common",)
MAX_MODULE_LINES = 400


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the given top-level packages, by dotted name."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def imported_names(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def add(name: str) -> None:
        # `import a.b.c` names the deepest project module that exists.
        parts = name.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in known:
                found.add(candidate)
                return
            parts.pop()

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else (node.module or "")
            )
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in known else base)
    found.discard(module)
    return found


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    known = set(modules)
    return {name: imported_names(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def package_graph(graph: dict[str, set[str]], depth: int) -> dict[str, set[str]]:
    """The module graph folded to packages `depth` names deep (`audit`, `strategist.auth`)."""

    def package(name: str) -> str:
        return ".".join(name.split(".")[:depth])

    folded: dict[str, set[str]] = {package(name): set() for name in graph}
    for importer, imports in graph.items():
        folded[package(importer)].update(
            package(imported) for imported in imports if package(imported) != package(importer)
        )
    return folded


def reaches_into_service(importer: str, imported: str) -> bool:
    """True when the app imports a service's internals (anything but the shared packages)."""
    if importer.split(".")[0] != "strategist" or not imported.startswith("services."):
        return False
    return not any(
        imported == shared or imported.startswith(shared + ".")
        for shared in SHARED_SERVICE_PACKAGES
    )


# ------------------------------------------------------------------ the checker's own tests


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def f():\n    from pkg import a\n",
        "pkg/c.py": "import pkg.a\n",
    })
    assert cycles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b"]]


def test_relative_imports_and_names_from_a_package_resolve_to_modules(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "from .a import x\n",
        "pkg/a.py": "from . import b\nfrom .b import y\n",
        "pkg/b.py": "",
    })
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.b"}
    assert cycles(graph) == []


def test_packages_that_import_each_other_form_a_cycle(tmp_path: Path) -> None:
    _write(tmp_path, {
        "one/__init__.py": "",
        "one/a.py": "from two.b import x\n",
        "two/__init__.py": "",
        "two/b.py": "",
        "two/c.py": "from one.a import y\n",
    })
    graph = import_graph(tmp_path, ["one", "two"])
    assert cycles(graph) == []
    assert cycles(package_graph(graph, 1)) == [["one", "two"]]


def test_the_app_may_use_shared_service_code_but_no_service_internals() -> None:
    assert reaches_into_service("strategist.auth.keys", "services.recorder.tables")
    assert not reaches_into_service("strategist.runtime", "services.common.settings")
    assert not reaches_into_service("services.recorder.worker", "services.classifier.handler")


# ------------------------------------------------------------------ the project


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    present = [p for p in PRODUCTION_PACKAGES if (REPO_ROOT / p).is_dir()]
    return import_graph(REPO_ROOT, [*present, "tests"])


def test_no_import_cycle_among_the_projects_modules(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


@pytest.mark.parametrize("depth", [1, 2], ids=["top-level packages", "their sub-packages"])
def test_no_import_cycle_among_the_projects_packages(
    graph: dict[str, set[str]], depth: int
) -> None:
    production = {name: imports for name, imports in graph.items() if not name.startswith("tests")}
    assert cycles(package_graph(production, depth)) == []


def test_the_app_does_not_reach_into_service_internals(graph: dict[str, set[str]]) -> None:
    reaching = sorted(
        f"{importer} -> {imported}"
        for importer, imports in graph.items()
        for imported in imports
        if reaches_into_service(importer, imported)
    )
    assert reaching == []


def test_no_production_module_imports_the_tests(graph: dict[str, set[str]]) -> None:
    offenders = sorted(
        f"{importer} -> {imported}"
        for importer, imports in graph.items()
        if importer.split(".")[0] != "tests"
        for imported in imports
        if imported.split(".")[0] == "tests"
    )
    assert offenders == []


def test_no_production_module_is_over_the_line_limit() -> None:
    present = [p for p in PRODUCTION_PACKAGES if (REPO_ROOT / p).is_dir()]
    too_long = sorted(
        f"{name} ({lines} lines)"
        for name, path in project_modules(REPO_ROOT, present).items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    )
    assert too_long == []
