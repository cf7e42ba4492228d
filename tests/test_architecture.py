"""The tree tells the architecture: fastagi/ stands alone, arrows point one way, no import circles."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fastagi", "did_failover")

LAYERS = {
    "did_failover": 0,
    "did_failover.errors": 0,
    "did_failover.console": 0,
    "did_failover.conditions": 0,
    "did_failover.numbers": 0,
    "did_failover.settings": 0,
    "did_failover.logs": 0,
    "did_failover.storage": 1,
    "did_failover.routing": 2,
    "did_failover.calls": 2,
    "did_failover.admin": 2,
    "did_failover.webhooks": 2,
    "did_failover.cli": 3,
    "did_failover.runtime": 3,
    "did_failover.tools": 3,
    "did_failover.web": 3,
    "did_failover.main": 4,
}
"""The entry point (4) -> shells (3) -> admin, routing, calls, webhooks (2) -> storage (1) -> the rules
everything shares (0)."""


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _layer(module: str) -> int:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")


def test_fastagi_imports_nothing_of_the_application() -> None:
    """No module of fastagi/ names did_failover, at the top or inside a function."""
    graph = _graph()
    offenders = {
        module: sorted(target for target in targets if target.startswith("did_failover"))
        for module, targets in graph.items()
        if module.startswith("fastagi")
    }
    assert {module: found for module, found in offenders.items() if found} == {}


def test_every_fastagi_module_imports_with_the_application_unimportable() -> None:
    """With did_failover made unimportable, every fastagi module still imports (in a fresh Python)."""
    fastagi_modules = sorted(name for name in _modules() if name.startswith("fastagi"))
    script = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'did_failover' or name.startswith('did_failover.'):\n"
        "            raise ImportError('did_failover is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {fastagi_modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(len([m for m in sys.modules if m.startswith('fastagi')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= len(fastagi_modules)


def test_no_import_circle() -> None:
    """The module graph, function-level imports included, has no cycle (Tarjan's strongly connected parts)."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for node in graph:
        if node not in index:
            visit(node)
    assert circles == []


def test_arrows_point_from_the_shells_down_to_storage() -> None:
    """No module imports one of a higher layer (storage never reaches routing, routing never the CLI)."""
    upward = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.startswith("did_failover")
        for target in sorted(targets)
        if target.startswith("did_failover") and _layer(target) > _layer(module)
    ]
    assert upward == []


SHELLS = ("did_failover.cli", "did_failover.runtime", "did_failover.tools", "did_failover.web")


def _shell(module: str) -> str | None:
    return next((shell for shell in SHELLS if module == shell or module.startswith(shell + ".")), None)


def test_no_shell_imports_another() -> None:
    """cli, runtime, tools and web share only what lives a layer down (admin, routing, storage and
    the leaf modules); only the entry point (did_failover.main) reaches each of them."""
    sideways = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if _shell(module) and _shell(target) and _shell(module) != _shell(target)
    ]
    assert sideways == []


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_short_or_say_why(package: str) -> None:
    """No module over 350 lines unless its docstring says why it is long ("Longer than ... on purpose")."""
    long_ones = []
    for name, path in _modules().items():
        if not name.startswith(package):
            continue
        lines = path.read_text().count("\n")
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > 350 and "on purpose" not in docstring:
            long_ones.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert long_ones == []


def test_the_service_layer_writes_no_cli_option_into_a_message() -> None:
    """admin/, routing/ and storage/ name a refused field by its key (InputError.field); only the
    CLI turns it into `--busy`, so no string there starts with `--`."""
    found = []
    for name, path in _modules().items():
        if not name.startswith(("did_failover.admin", "did_failover.routing", "did_failover.storage")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
            if text.startswith("--") and text[2:3].isalpha():  # an option, not an SQL comment's "--"
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}: {text[:40]!r}")
    assert found == []


def test_every_operation_of_the_service_checks_its_scope_first() -> None:
    """Each public operation that takes a Scope is wrapped by `scoped`, which checks the scope
    before anything is read: an operation added without it fails here."""
    from did_failover.admin.scope import CHECKED
    from did_failover.admin.service import Service

    unchecked = [
        name
        for name, operation in inspect.getmembers(Service, inspect.iscoroutinefunction)
        if not name.startswith("_")
        and "scope" in inspect.signature(operation).parameters
        and name != "check_scope"
        and operation not in CHECKED
    ]
    assert unchecked == []
