"""The constructed November's command-line database (defined once, in
``tests/assessments/helpers.py``)."""

from tests.assessments.helpers import november_db  # noqa: F401
