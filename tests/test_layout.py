"""The layout of bot/ keeps its arrows one way (issue 20).

Pillars use core/ and org/, never each other; core/ knows no pillar and no org;
org/ knows no pillar; handlers take domain types from bot/, never from storage/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PILLARS = {"reports", "consult", "culture", "service", "assess", "lead"}
TOP = {"app", "services", "context", "menus", "__main__"}


def _imports(path: Path, root: Path) -> list[str]:
    """Every module a file imports, absolute (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]
    return found


def _part(module: str) -> str | None:
    """Which part of bot/ a module belongs to: core, org, a pillar, or the top."""
    parts = module.split(".")
    if parts[0] != "bot" or len(parts) < 2:
        return None
    return parts[1]


def _violations(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for path in sorted((root / "bot").rglob("*.py")):
        rel = path.relative_to(root)
        here = rel.parts[1] if len(rel.parts) > 2 else rel.stem
        for module in _imports(path, root):
            there = _part(module)
            if there is None or there == here:
                continue
            if here == "core" and there != "core":
                found.append(f"{rel}: core/ imports {module}")
            elif here == "org" and (there in PILLARS or there in TOP):
                found.append(f"{rel}: org/ imports {module}")
            elif here in PILLARS and (there in PILLARS or there in TOP):
                found.append(f"{rel}: pillar {here} imports {module}")
    for path in sorted((root / "handlers").rglob("*.py")):
        for module in _imports(path, root):
            if module.split(".")[0] == "storage":
                found.append(f"{path.relative_to(root)}: a handler imports {module}")
    return found


def test_the_arrows_of_bot_run_one_way() -> None:
    assert _violations() == []


def test_the_packages_of_the_method_are_there() -> None:
    for package in ["core", "org", *sorted(PILLARS)]:
        init = ROOT / "bot" / package / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()) == 2, package
    loose = {p.stem for p in (ROOT / "bot").glob("*.py")} - TOP - {"__init__"}
    assert loose == set()


def test_the_check_sees_each_wrong_arrow(tmp_path: Path) -> None:
    """The walker itself, on a small tree with one wrong arrow of each kind."""
    files = {
        "bot/lead/x.py": "from bot.reports.reports import ReportService\n",
        "bot/core/y.py": "from ..org import org\n",
        "bot/org/z.py": "import bot.services\n",
        "handlers/h.py": "from storage.reports import Report\n",
        "bot/reports/fine.py": "from bot.core.clock import Clock\nfrom bot.org.org import Node\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert _violations(tmp_path) == [
        "bot/core/y.py: core/ imports bot.org",
        "bot/core/y.py: core/ imports bot.org.org",
        "bot/lead/x.py: pillar lead imports bot.reports.reports",
        "bot/lead/x.py: pillar lead imports bot.reports.reports.ReportService",
        "bot/org/z.py: org/ imports bot.services",
        "handlers/h.py: a handler imports storage.reports",
        "handlers/h.py: a handler imports storage.reports.Report",
    ]


pytestmark = pytest.mark.no_storage
