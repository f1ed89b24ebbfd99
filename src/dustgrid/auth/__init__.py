"""Accounts, roles, the request principal and the scope every query goes through."""
