"""The subset of JSONPath that ASL's path fields use: `$`, `$.a.b`, `$.a[0].b`, and `$$.` for
the context object. Anything else is rejected, never guessed at."""

from __future__ import annotations

import copy
import re
from typing import Any

_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


class PathError(Exception):
    """A path that is malformed, or that does not exist in the data it is applied to."""


def parse(path: str) -> list[str | int]:
    if path == "$":
        return []
    if not path.startswith("$"):
        raise PathError(f"path {path!r} must start with '$'")
    rest, parts, position = path[1:], [], 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise PathError(f"unsupported path {path!r} (only $.field and [index] are allowed)")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return parts


def get(data: Any, path: str) -> Any:
    value = data
    for part in parse(path):
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise PathError(f"path {path!r} does not exist in the input") from None
    return value


def put(data: Any, path: str, value: Any) -> Any:
    """ResultPath semantics: `$` replaces, `$.a.b` sets (creating objects on the way)."""
    parts = parse(path)
    if not parts:
        return value
    result = copy.deepcopy(data) if isinstance(data, dict) else {}
    node = result
    for part in parts[:-1]:
        if not isinstance(part, str):
            raise PathError(f"ResultPath {path!r} cannot index into an array")
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise PathError(f"ResultPath {path!r} crosses a non-object value")
    last = parts[-1]
    if not isinstance(last, str):
        raise PathError(f"ResultPath {path!r} cannot end in an array index")
    node[last] = value
    return result


def render(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters/ItemSelector/ResultSelector: keys ending in `.$` take their value from a path
    (`$...` into the data, `$$...` into the context object)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise PathError(f"{key} must be a path string")
                if value.startswith("$$"):
                    out[key[:-2]] = get(context, value[1:])
                elif value.startswith("States."):
                    raise PathError(f"intrinsic functions are not supported: {value}")
                else:
                    out[key[:-2]] = get(data, value)
            else:
                out[key] = render(value, data, context)
        return out
    if isinstance(template, list):
        return [render(item, data, context) for item in template]
    return template
