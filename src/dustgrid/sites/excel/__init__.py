"""Excel template, export and import of the site ledger (工地台账), the way officials work.

An upload is upserted by project code through the site service (which audits each change),
every row inside its own SAVEPOINT so that one bad row never loses the good ones; every
bad cell comes back as a :class:`RowError` in Chinese. Columns live in ``excel_columns``.

By responsibility: ``reading`` (the uploaded workbook: size, archive, rows), ``lookups``
(bulk reads shared by import and export), ``importing`` (parse, upsert, report) and
``writing`` (template and export with help sheet and dropdowns).
"""

from __future__ import annotations

from dustgrid.sites.excel.importing import ImportReport, RowError, import_sites
from dustgrid.sites.excel.reading import HELP_SHEET, SHEET, read_rows
from dustgrid.sites.excel.writing import export_sites, template

__all__ = [
    "HELP_SHEET",
    "SHEET",
    "ImportReport",
    "RowError",
    "export_sites",
    "import_sites",
    "read_rows",
    "template",
]
