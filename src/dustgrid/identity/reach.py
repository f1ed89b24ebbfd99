"""Reach: rows of a lower domain that a principal sees through the rows of a domain above it.

Each domain's repository answers "what may this principal read" for its own rows. A few
answers depend on a domain higher in the order (docs/architecture.md, *Layers*): a device
provider sees the sites where its devices are; a district is visible when one of its sites
is; a provider sees the cases raised from its devices' alerts. The lower domain declares the
:class:`Reach` and calls it in its clause; the higher domain provides the clause when its
repository is imported. Nothing is assumed when no provider is registered: the call fails
loudly instead of widening or narrowing a scope.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement

from dustgrid.identity.principal import Principal

Clause = Callable[[Principal], ColumnElement[bool]]


class Reach:
    """One extension point of a domain's scope clause, provided by a domain above it."""

    def __init__(self, what: str, provided_by: str) -> None:
        self.what = what
        self.provided_by = provided_by
        self._clause: Clause | None = None

    def provide(self, clause: Clause) -> Clause:
        """Register ``clause`` (used as a decorator by the providing module)."""
        self._clause = clause
        return clause

    def __call__(self, principal: Principal) -> ColumnElement[bool]:
        if self._clause is None:
            raise RuntimeError(f"scope of {self.what}: import {self.provided_by} first")
        return self._clause(principal)
