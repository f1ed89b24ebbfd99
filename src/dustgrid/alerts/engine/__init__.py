"""The pure alert engine: AQI, windows, rule profiles, rules, quality detectors, judging.

No database, web or template import here (a contract checked in `make test`): the runtime
around it (fetching readings, window state, reconciling alerts, tasks) lives in ``alerts/``.
"""
