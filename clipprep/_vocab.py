"""The words a report is made of: verdicts, severities, targets and subject modes, in one place.

Plain ``str`` constants grouped in class namespaces, not Enums: these values go into JSON,
CSV, HTML and printed text, and a plain str prints the same through ``json.dumps``, ``str()``,
``format()`` and f-strings on every Python clipprep supports (3.10+). A ``(str, Enum)`` member
formats differently across those versions (3.12 changed ``format()`` of mixed-in enums), and
``enum.StrEnum`` only exists from 3.11.
"""

from __future__ import annotations


class Verdict:
    """A clip's verdict (``Report.verdict``)."""

    READY = "ready"  # no errors: upload it as it is
    FIXABLE = "fixable"  # every error can be fixed by ``clipprep prepare``
    REJECTED = "rejected"  # some error needs a new recording or a different name
    UNREADABLE = "unreadable"  # not a clip that could be decoded
    # A batch entry whose check itself failed (no report): _batch.py's and _html.py's verdict.
    ERROR = "error"


class Severity:
    """How bad a problem is (``Problem.severity``)."""

    ERROR = "error"  # not uploadable as it is
    WARNING = "warning"  # uploadable, a worse character
    INFO = "info"  # a note
    ORDER = (ERROR, WARNING, INFO)  # how problems are listed


class TargetKind:
    """What a clip's frames are judged by (``analysis.target``)."""

    FACE = "face"
    SUBJECT = "subject"  # the main subject, whatever it is


class SubjectMode:
    """How the target is chosen (``--subject``, ``Profile.subject_mode``)."""

    AUTO = "auto"  # the face when enough samples show one, else the subject
    FACE = "face"
    ANY = "any"  # always the main subject
    ALL = (AUTO, FACE, ANY)
