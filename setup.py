"""Build of the optional C accelerator; everything else is configured in pyproject.toml.

``optional=True``: where no C compiler is available the install still succeeds and the
codec runs in pure Python (docs/dependencies.md); CI sets DUSTGRID_REQUIRE_SPEEDUPS=1 so a
broken build fails a test there instead of passing silently.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "dustgrid.ingest.hj212._speedups",
            sources=["src/dustgrid/ingest/hj212/_speedups.c"],
            optional=True,
        )
    ]
)
