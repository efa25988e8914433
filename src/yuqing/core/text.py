"""Control characters (NUL, \\x01 … \\x1f, DEL, C1) are cleaned where text enters the desk.

They are never meant in a title, a note or a name, PostgreSQL refuses NUL in text, and the
XML inside .xlsx and .docx cannot carry them at all, so one such character in a stored row
used to break every export that showed it. Tab, newline and carriage return are text and
stay; a lone surrogate (which a JSON ``\\ud800`` yields and no encoder accepts) and the
non-characters U+FFFE/U+FFFF go too. The web edge (``yuqing.web.cleaning``), the mention
normaliser, the audit log and every export call ``strip_controls``; a flush hook in
``yuqing.core.database`` keeps them out of any row written through the ORM, whichever way
the text came in.
"""

from __future__ import annotations

import re
from typing import Any

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_controls(text: str) -> str:
    """``text`` without control characters; tab, newline and carriage return stay."""
    return CONTROL.sub("", text) if CONTROL.search(text) else text


def strip_controls_in(value: Any) -> Any:
    """``strip_controls`` for a str; anything else (a number, a date, None) as it is."""
    return strip_controls(value) if isinstance(value, str) else value
