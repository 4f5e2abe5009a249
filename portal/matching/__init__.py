"""Matching: rank navigators, buddies and activities for one person, and say why.

The ranking itself (`engine`, `buddies`, `activities`, `navigators`, `batch`) is pure:
plain data in, ranked suggestions with reasons out. `pools` reads that data from the
database; `views` shows it.
"""
