"""The load test: 50 people using the portal at once, then a count of what they saved.

`run.py` starts everything and prints the figures; `seed.py` builds the working set;
`users.py` holds the locust users, one class per role. See README.md.
"""
