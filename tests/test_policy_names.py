"""One naming pattern for default policies: ``DEFAULT_<NAME>_POLICY`` everywhere."""

from __future__ import annotations

import importlib
import pkgutil
import re

import dustgrid

PATTERN = re.compile(r"DEFAULT_[A-Z0-9_]+_POLICY")


def _policy_instances() -> dict[str, str]:
    """``{module.NAME: class}`` of every public module-level instance of a ``*Policy``
    class of DustGrid, where the module defines it (not where it is imported)."""
    found: dict[str, str] = {}
    for info in pkgutil.walk_packages(dustgrid.__path__, "dustgrid."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            cls = type(value)
            if name.startswith("_") or not cls.__name__.endswith("Policy"):
                continue
            if not cls.__module__.startswith("dustgrid."):
                continue
            if _defined_here(module, name):
                found[f"{info.name}.{name}"] = cls.__name__
    return found


def _defined_here(module: object, name: str) -> bool:
    path = getattr(module, "__file__", None)
    if path is None:
        return False
    with open(path, encoding="utf-8") as f:
        return re.search(rf"^{name}\b\s*(:[^=]*)?=", f.read(), re.M) is not None


def test_every_default_policy_is_named_default_name_policy() -> None:
    found = _policy_instances()
    assert found, "the walk finds the policies"
    wrong = sorted(name for name in found if not PATTERN.fullmatch(name.rsplit(".", 1)[1]))
    assert wrong == []
