"""Named state changes and queries of the domain (CONVENTIONS.md #3).

Each is a plain async function taking an ``AsyncSession`` (and/or a Redis client); none
commits: the caller commits, then performs side effects that leave the process.
"""
