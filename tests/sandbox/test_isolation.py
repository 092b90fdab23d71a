"""The sandbox stands apart from the portal: importing it loads neither Django nor any of the
portal's packages, so the two can only agree through the contract."""

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("django", "core", "portal", "settlements", "disputes")


def test_importing_every_sandbox_module_in_a_fresh_process_loads_no_django_and_no_app():
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import sandbox\n"
        "for module in pkgutil.walk_packages(sandbox.__path__, 'sandbox.'):\n"
        "    importlib.import_module(module.name)\n"
        "loaded = sorted({name.split('.')[0] for name in sys.modules})\n"
        "print(json.dumps(loaded))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert {"sandbox", "starlette", "sqlite3"} <= loaded
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)


def test_no_sandbox_source_names_django_or_an_app_in_an_import():
    found = []
    for path in sorted((REPO / "sandbox").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in FORBIDDEN
            ]

    assert found == []
