"""``vck dlt templates --export FILE``: every SMS template an operator registers on the
DLT portal (core/dlt_templates.py), as CSV, one template a row:

``key, language, template, type, category, header, template_id``

- ``template``: the text with ``{#var#}`` slots, as it must be registered; several lines
  where a reply combines sentences and choices;
- ``type``: ``otp`` for the login code, ``service-implicit`` for replies to a member who
  wrote (DLT's content types);
- ``header``: the sender id (``VCK_DLT_SENDER_ID``);
- ``template_id``: the id DLT gave, from ``VCK_DLT_TEMPLATE_IDS``; empty until it is
  registered. Put the ids DLT gives back into ``VCK_DLT_TEMPLATE_IDS`` by key.

``--missing`` lists only templates without a registered id (what to upload next).
With ``-`` as FILE the CSV goes to standard output.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from core.config import Settings

COLUMNS = ("key", "language", "template", "type", "category", "header", "template_id")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dlt = sub.add_parser("dlt", help="Indian DLT SMS: templates to register")
    actions = dlt.add_subparsers(dest="action", required=True)
    templates = actions.add_parser("templates", help="the SMS templates to upload to DLT")
    templates.add_argument("--export", required=True, metavar="FILE", help="CSV file, or -")
    templates.add_argument(
        "--missing", action="store_true", help="only those without an id in VCK_DLT_TEMPLATE_IDS"
    )
    templates.set_defaults(handler=_templates)


def _templates(args: argparse.Namespace) -> int:
    from core.config import load_settings

    settings = load_settings()
    if args.export == "-":
        count = write(sys.stdout, settings, missing_only=args.missing)
    else:
        with open(args.export, "w", newline="", encoding="utf-8") as out:
            count = write(out, settings, missing_only=args.missing)
        print(f"{count} templates written to {args.export}", file=sys.stderr)
    return 0


def write(out: TextIO, settings: Settings, *, missing_only: bool = False) -> int:
    """Writes the CSV to ``out``; returns how many templates it lists."""
    from core.dlt_templates import CATEGORY, Registry

    registry = Registry.from_settings(settings)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for template in registry.registered():
        registered = settings.dlt_template_ids.get(template.key, "")
        if missing_only and registered:
            continue
        writer.writerow(
            (
                template.key,
                template.language,
                template.text,
                template.kind,
                CATEGORY,
                settings.dlt_sender_id,
                registered,
            )
        )
        count += 1
    return count
