"""JSON Schemas (draft 2020-12) of what clipprep prints: the check report, the prepare result
and a batch's results.jsonl line. They ship in the package (``schemas/clipprep.schema.json``)
and are checked in the tests against real outputs."""

from __future__ import annotations

import json
from importlib import resources

KINDS = ("report", "prepare", "batch")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema(kind: str = "report") -> dict:
    """The self-contained schema of one kind of document (``report``, ``prepare``, ``batch``)."""
    from ._errors import UsageError

    if kind not in KINDS:
        raise UsageError(f"no schema {kind!r}", hint=f"one of: {', '.join(KINDS)}")
    source = resources.files(__package__).joinpath("schemas", "clipprep.schema.json")
    definitions = json.loads(source.read_text(encoding="utf-8"))["$defs"]
    return {
        "$schema": _DIALECT,
        "title": definitions[kind]["title"],
        "$ref": f"#/$defs/{kind}",
        "$defs": definitions,
    }
