"""Who is asking: the principal's facts, roles and permissions, password hashing.

A foundation: every domain reads a Principal, none needs the auth domain for it.
"""
