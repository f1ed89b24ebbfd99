"""Monthly assessment (督考, domain.md §6–§7): scores of L2 units, officer groups,
third-party inspector groups and device providers, computed from the records.

Pure cores: ``policy`` (the versioned rule sets), ``months`` (months and check weeks),
``scoring`` (facts to scores with their evidence). The rest: ``repository`` (the month's
facts and the stored scores), ``service`` (runs, closing, appeals), ``api``, ``cli``, ``tasks``.
"""
