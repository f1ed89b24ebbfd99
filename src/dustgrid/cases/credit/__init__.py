"""Credit: enterprises' bad-behaviour records, the blacklist, the credit export.

See docs/cases.md.
"""
