"""`{{name}}` placeholders in suite messages and evaluator values, filled from a dataset item
(its input's fields, and `expected`). A name the item lacks is an error, never an empty string:
a typo in a suite must not quietly compare every output with ''."""

from __future__ import annotations

import json
import re
from typing import Any

_PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][\w.]*)\s*}}")


class MissingField(ValueError):
    """A placeholder names a field the item does not have."""


def names(template: str) -> list[str]:
    """The placeholders `template` uses, in order."""
    return _PLACEHOLDER.findall(template)


def render(template: str, values: dict[str, Any]) -> str:
    """`template` with each `{{name}}` (dotted for nested fields) replaced by its value; a value
    that is not a string is written as JSON."""

    def fill(match: re.Match[str]) -> str:
        found: Any = values
        for part in match.group(1).split("."):
            if not isinstance(found, dict) or part not in found:
                raise MissingField(f"the item has no field {match.group(1)!r}")
            found = found[part]
        return found if isinstance(found, str) else json.dumps(found, sort_keys=True)

    return _PLACEHOLDER.sub(fill, template)
