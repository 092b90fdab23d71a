"""The shape of the code, checked: arrows point one way (import-linter's contracts in
pyproject.toml), nothing but core.transitions writes a status, imports sit at the top of a
module unless a comment says why, and the README and docs link only to what exists here."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APPS = ["core", "portal", "settlements", "disputes"]


def app_modules():
    for app in APPS:
        for path in sorted((REPO / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")

    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_an_import_inside_a_function_says_why_in_a_comment_above_it():
    unexplained = []
    for path in app_modules():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    above = lines[inner.lineno - 2].strip() if inner.lineno > 1 else ""
                    if not above.startswith("#"):
                        unexplained.append(f"{path.relative_to(REPO)}:{inner.lineno}")

    assert unexplained == []


def test_only_core_transitions_writes_a_status():
    writes = []
    for path in app_modules():
        if path == REPO / "core" / "transitions.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "status":
                        writes.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"update", "bulk_update"}
                and any(keyword.arg == "status" for keyword in node.keywords)
            ):
                writes.append(f"{path.relative_to(REPO)}:{node.lineno}")

    assert writes == []


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def documents():
    return [REPO / "README.md", REPO / "SECURITY.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_in_the_docs_points_at_something_in_the_repository(document):
    text = document.read_text(encoding="utf-8")
    # The team's shared notes are not in a clone; the repository stands on its own.
    assert "../shared" not in text
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://|mailto:|#", target):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(REPO) or not path.exists():
            broken.append(target)

    assert broken == []


def test_the_docs_a_newcomer_needs_exist():
    assert (REPO / "docs" / "architecture.md").is_file()
    assert (REPO / "docs" / "acquirer-api.md").is_file()
