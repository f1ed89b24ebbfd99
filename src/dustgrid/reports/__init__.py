"""Reports: the monthly notice (月通报) and the electronic archives (电子档案).

See docs/reports.md.
"""
