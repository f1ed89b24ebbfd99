"""Schemathesis over the whole published API, in process, logged in as the city admin.

Every operation of ``/openapi.json`` gets schema-valid and schema-violating requests
(positive and negative generation). The bar: no server error (5xx, or an exception escaping
the app). Bounded in time (``EXAMPLES`` per operation and mode) and deterministic
(``derandomize``: the same inputs on every run), so a failure reproduces locally with
``pytest tests/test_schemathesis.py``. The test's session is rolled back afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

EXAMPLES = 8  # per operation and generation mode: about a minute on one core
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], out: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        where = f"{operation.label} [{mode.value}] path={case.path_parameters} "
        where += f"query={case.query} body={str(case.body)[:200]}"
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the app raised: a 500 in production
            out.append(f"{where} -> {type(exc).__name__}: {exc}"[:600])
            return
        if response.status_code >= 500:
            out.append(f"{where} -> {response.status_code} {response.text[:200]}")

    with contextlib.suppress(Unsatisfiable):  # nothing to negate (no parameters)
        run()


@pytest.mark.timeout(900)  # about a minute of CPU; room for a loaded CI machine
def test_no_server_errors(app: Any, token_for: Callable[[str], str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in MODES:
            _fuzz(operation, mode, headers, failures)
    assert operations > 100  # the whole API was walked, not an empty schema
    assert failures == [], "\n".join(failures)
