"""The deterministic demo city (`dustgrid demo --seed N`): a Shenyang-like city to try the
platform on, with districts, sites, enterprises, the unit tree, grids and every role.

Import from :mod:`dustgrid.demo.city`; this package file stays empty so that importing the
geography or name lists does not pull in the database layer.
"""
