"""The notifier: an arq worker that fans announcements out and sends them, and the
priority lane for messages to one person.

The rest of the project asks it for work through :class:`core.jobs.Jobs` (publish an
announcement, send a batch again, send a reply), filled at each entrypoint's bootstrap;
nothing outside the worker and the CLI imports this package.

Run it with ``vck worker``. Design and guarantees: docs/notifier.md.
"""
