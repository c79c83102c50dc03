"""The layer rules (docs/architecture.md, [tool.importlinter] in pyproject.toml) catch a break.

CI runs `lint-imports` on the tree itself; this proves that the contracts have teeth: a copy of
the tree with one forbidden import injected must fail, and name the rule it broke.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def tree_copy(destination: Path) -> Path:
    for package in ("bot", "handlers", "storage"):
        shutil.copytree(
            ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports finds the packages on sys.path: the copy, ahead of the editable install.
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def inject(module: Path, line: str) -> None:
    source = module.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in source
    module.write_text(source.replace(marker, f"{marker}\n{line}\n", 1))


CASES = [
    ("bot/stt/types.py", "import storage.db", "bot/stt/ is pure speech-to-text"),
    ("storage/jobs.py", "import telegram", "storage/ imports nothing of ours"),
    ("handlers/commands.py", "import storage.users", "Handlers call services"),
    ("bot/policy/cache.py", "import bot.pipeline.media", "bot/policy/ imports only"),
]


def broken_section(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.split("Broken contracts", 1)[1] if result.returncode else ""


def test_the_rules_below_hold_in_the_tree_as_it_is(tmp_path: Path) -> None:
    broken = broken_section(lint_imports(tree_copy(tmp_path)))
    for _, _, rule in CASES:
        assert rule not in broken


@pytest.mark.parametrize(("module", "forbidden_import", "broken_rule"), CASES)
def test_a_forbidden_import_breaks_the_build(
    tmp_path: Path, module: str, forbidden_import: str, broken_rule: str
) -> None:
    tree = tree_copy(tmp_path)
    inject(tree / module, forbidden_import)
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = broken_section(result)
    assert broken_rule in broken
    assert module.removesuffix(".py").replace("/", ".") in broken


def test_a_module_without_a_place_in_the_layers_breaks_the_build(tmp_path: Path) -> None:
    tree = tree_copy(tmp_path)
    (tree / "bot" / "misc.py").write_text('"""Somewhere to put things."""\n')
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = broken_section(result)
    assert "Every part of bot/ has its place" in broken
    assert "bot.misc" in broken
