"""Patrol plans (巡查计划): weekly and fortnightly plans per grid group, routes, coverage.

Pure cores: ``policy`` (the versioned numbers), ``periods`` (ISO weeks and fortnights),
``priority`` (the one place a site's priority is computed), ``planner`` (sites and working
days to crew-days) and ``routing`` (the day's visiting order, OR-Tools).
"""
