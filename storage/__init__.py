"""SQLite storage: the connection, numbered migrations and repositories of plain dataclasses.

Imports nothing of ours: neither `bot` nor `telegram`.
"""
