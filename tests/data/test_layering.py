"""Imports run one way: the data package is the ground floor and never imports the engines."""

from __future__ import annotations

import ast
from pathlib import Path

import sphinx_x.data

DATA = Path(sphinx_x.data.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_data_never_imports_the_engines() -> None:
    offenders = {str(path.relative_to(DATA)): sorted(name for name in imported_modules(path)
                                                     if name.startswith("sphinx_x.engines"))
                 for path in DATA.rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_shared_ocr_helpers_do_not_import_the_readers() -> None:
    offenders = {str(path.relative_to(DATA)): sorted(name for name in imported_modules(path)
                                                     if name.startswith("sphinx_x.data.sources"))
                 for path in (DATA / "ocr").rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}
