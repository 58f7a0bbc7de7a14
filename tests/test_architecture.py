"""The architecture rules of pyproject.toml ([tool.importlinter]) hold, and they cover the whole tree."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import pytest

import efield

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def _config() -> dict:
    with open(PYPROJECT, "rb") as fh:
        return tomllib.load(fh)["tool"]["importlinter"]


def test_import_contracts_are_kept(monkeypatch):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    # exit code 0 only when every contract (layers, coils/meshes independent of efield, no cycles) is kept
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True) == 0


def test_every_efield_subpackage_and_top_module_sits_in_a_layer():
    layers = next(c for c in _config()["contracts"] if c["type"] == "layers")["layers"]
    children = {f"efield.{m.name}" for m in pkgutil.iter_modules(efield.__path__)}
    assert children == set(layers), "a module of efield/ outside the layers contract escapes the rules"


@pytest.mark.parametrize("pkg", ["efield.physics", "efield.dose", "efield.targeting", "efield.views", "efield._common"])
def test_each_subpackage_says_what_it_owns_and_may_import(pkg):
    import importlib

    doc = importlib.import_module(pkg).__doc__ or ""
    assert "import" in doc and len(doc.splitlines()) >= 3, f"{pkg} docstring must state its contents and imports"


def test_no_function_in_targeting_has_more_than_80_lines_of_code():
    import ast

    for path in (ROOT / "efield" / "targeting").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                    body = body[1:]  # the docstring does not count
                length = (body[-1].end_lineno - body[0].lineno + 1) if body else 0
                assert length <= 80, f"{path.name}:{node.lineno} {node.name} has {length} lines of code"


def test_public_api_names_resolve():
    for name in efield.__all__:
        assert getattr(efield, name) is not None
    # the modules that lived at the top level before the split stay reachable as attributes
    assert efield.metrics.surface_metrics is efield.physics.metrics.surface_metrics
    assert efield.fields.simulate is efield.simulate
