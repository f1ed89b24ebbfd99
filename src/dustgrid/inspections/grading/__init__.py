"""A site's dust-control grade (不达标 / 基本达标 / 完全达标), from its latest inspection
and its open cases (docs/domain.md §2).

- ``rule``: the grading rule itself, pure (no database); ``DEFAULT_GRADING_POLICY``.
- ``models``: the grade history table (``site_grade_history``).
- ``repository``: the queries (latest inspection, open cases, history, stale sites).
- ``service``: ``regrade_site`` (writes the site's grade, a history row, an audit row),
  the case hook and the stale-inspection chore.
"""
