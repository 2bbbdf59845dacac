"""Local fake providers: small aiohttp servers on loopback speaking the real wire formats.

- :mod:`fakes.twilio`   -- Messages + Content API, signed status callbacks, inbound helpers
- :mod:`fakes.telegram` -- the Bot API under ``/bot<TOKEN>/<method>``, update builders
- :mod:`fakes.dlt`      -- an Exotel-shaped DLT SMS API, inbound-SMS helpers

Each runs as ``python -m fakes.<name> --port P`` or in-process (``await fake.start()``);
:mod:`fakes.common` documents the shared fail-on-demand controls.
"""
