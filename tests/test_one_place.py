"""One home per concern, read from the source with `ast`: one module speaks SMTP, one builds the Jinja environment,
and no module reaches into another's private names."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "antt"
# Great Expectations renders its Data Docs with its own Jinja environment; antt only hands it a loader.
GX_DATA_DOCS = PACKAGE / "checks" / "data_docs.py"


@functools.cache
def modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(PACKAGE.parent)): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py"))}


def imported(tree: ast.Module) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_exactly_one_module_speaks_smtp():
    speakers = [name for name, tree in modules().items() if "smtplib" in imported(tree)]
    assert speakers == ["antt/mail/outbox.py"]


def test_one_module_builds_the_jinja_environment():
    """Pages, e-mails and the province roll-up all render through `antt.outputs.render`."""
    builders = []
    for name, tree in modules().items():
        if name == str(GX_DATA_DOCS.relative_to(PACKAGE.parent)):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) \
                    else ""
                if called in ("Environment", "SandboxedEnvironment", "overlay"):
                    builders.append(name)
    assert set(builders) == {"antt/outputs/render.py"}  # the pages' environment and the Word template's


def test_no_module_imports_another_modules_private_names():
    private = [f"{name}: {node.module}.{alias.name}" for name, tree in modules().items() for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("antt")
               for alias in node.names if alias.name.startswith("_") and alias.name != "_"]
    assert private == []
