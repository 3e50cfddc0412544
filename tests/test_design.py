"""`docs/design.md` describes the package as it is: every module in its table, imports as allowed.

In the spirit of sqlite-utils' documentation tests: the design doc is only worth reading if
it cannot drift from the code, so the module table is parsed and checked against the source.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "newsletter"
DESIGN = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")


def modules() -> dict[str, Path]:
    """Dotted names relative to the package (``flows.poll``, ``store``) → source file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts and parts != ["__main__"]:
            found[".".join(parts)] = path
    return found


def table() -> dict[str, set[str]]:
    """The module table: ``module`` → the modules it may import (``*`` = any)."""
    rows: dict[str, set[str]] = {}
    for line in DESIGN.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([\w./]+)`", cells[0])
        allowed = set(re.findall(r"`([\w.*/]+)`", cells[-1]))
        for name in names:
            rows[_dotted(name)] = {_dotted(a) for a in allowed}
    return rows


def _dotted(name: str) -> str:
    return name.removesuffix(".py").removesuffix("/").replace("/", ".")


def imports_of(path: Path, name: str) -> set[str]:
    """Modules of ours that ``path`` imports, as dotted names relative to the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                targets = [f"newsletter.{module}" if module else "newsletter"]
                targets += [f"{targets[0]}.{a.name}" for a in node.names]
            else:
                targets = [node.module or ""]
                targets += [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("newsletter."):
                found.add(target.removeprefix("newsletter."))
    known = modules()
    # `from newsletter.store import Store` names the module `store`, not `store.Store`.
    return {_module_of(t, known) for t in found} - {name, ""}


def _module_of(target: str, known: dict[str, Path]) -> str:
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


def _allowed(imported: str, allowed: set[str]) -> bool:
    for rule in allowed:
        if rule == "*" or imported == rule:
            return True
        if rule.endswith(".*") and imported.startswith(rule[:-2]):
            return True
        if imported.startswith(rule + "."):  # a package allows its modules
            return True
    return False


def test_every_package_is_shipped_in_the_wheel() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(project["tool"]["setuptools"]["packages"])
    packages = {
        ".".join(("newsletter", *p.parent.relative_to(PACKAGE).parts))
        for p in PACKAGE.rglob("__init__.py")
    }
    assert packages <= shipped, f"add to [tool.setuptools] packages: {sorted(packages - shipped)}"


def test_every_module_is_in_the_design_table() -> None:
    rows = table()
    missing = sorted(set(modules()) - set(rows))
    assert not missing, f"add these modules to the table in docs/design.md: {missing}"
    gone = sorted(set(rows) - set(modules()))
    assert not gone, f"docs/design.md lists modules that no longer exist: {gone}"


def test_modules_import_only_what_the_design_allows() -> None:
    rows = table()
    wrong = []
    for name, path in modules().items():
        package = name.split(".")[0]
        for imported in sorted(imports_of(path, name)):
            # Inside a package its modules may use each other; the table governs the rest.
            if imported.split(".")[0] == package:
                continue
            if not _allowed(imported, rows.get(name, set())):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "imports the table in docs/design.md does not allow: " + "; ".join(wrong)
