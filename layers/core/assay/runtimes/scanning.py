"""Just enough of brace languages (JavaScript and TypeScript, Go, Rust, Java) to plan and prune:
where a block ends, where JavaScript functions start and end, and cutting named test blocks out
of a file. A scanner, not a parser: it skips strings, template literals and comments while
matching brackets, and answers None when unsure (a caller then keeps the file whole)."""

from __future__ import annotations

import re

_OPEN = {"(": ")", "{": "}", "[": "]"}


def _skip_string(code: str, i: int) -> int:
    """The index after the string or template literal starting at `i`."""
    quote = code[i]
    i += 1
    while i < len(code):
        char = code[i]
        if char == "\\":
            i += 2
            continue
        if quote == "`" and code.startswith("${", i):
            end = matching(code, i + 1)
            if end is None:
                return len(code)
            i = end + 1
            continue
        if char == quote:
            return i + 1
        if char == "\n" and quote != "`":
            return i  # an unterminated string ends at the line
        i += 1
    return len(code)


_RUST_CHAR = re.compile(r"'(?:\\.[^']*|[^\\'])'")
_RUST_RAW = re.compile(r'r(#*)"')


def matching(code: str, start: int, *, rust: bool = False) -> int | None:
    """The index of the bracket that closes the one at `start`, or None. With `rust`, a
    quote is a char literal only when one closes it (`'a` is a lifetime), and raw strings
    (`r#"..."#`) are skipped whole; backquotes mean nothing."""
    stack = [_OPEN[code[start]]]
    i = start + 1
    while i < len(code):
        char = code[i]
        if rust:
            raw = _RUST_RAW.match(code, i) if char == "r" else None
            if raw and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] == "_")):
                close = code.find('"' + raw.group(1), raw.end())
                i = len(code) if close < 0 else close + 1 + len(raw.group(1))
                continue
            if char == "'":
                literal = _RUST_CHAR.match(code, i)
                i = literal.end() if literal else i + 1
                continue
            if char == '"':
                i = _skip_string(code, i)
                continue
        elif char in "'\"`":
            i = _skip_string(code, i)
            continue
        if code.startswith("//", i):
            newline = code.find("\n", i)
            i = len(code) if newline < 0 else newline
            continue
        if code.startswith("/*", i):
            close = code.find("*/", i + 2)
            i = len(code) if close < 0 else close + 2
            continue
        if char in _OPEN:
            stack.append(_OPEN[char])
        elif char in ")}]":
            if char != stack.pop():
                return None
            if not stack:
                return i
        i += 1
    return None


def _line(code: str, index: int) -> int:
    return code.count("\n", 0, index) + 1


_FUNCTION = re.compile(
    r"""^[ \t]*(?:export\s+(?:default\s+)?)?(?:async\s+)?function\s*\*?\s*
          (?P<fn>[A-Za-z_$][\w$]*)\s*[<(]
      |^[ \t]*(?:export\s+)?(?:const|let|var)\s+(?P<var>[A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*
          (?:async\s+)?(?:function\b[^(]*\(|\([^)]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)
      |^[ \t]*(?:(?:public|private|protected|static|async|get|set|readonly)\s+)*
          (?P<method>[A-Za-z_$][\w$]*)\s*\([^)]*\)\s*(?::[^{]+)?\{
      |^[ \t]*(?:export\s+(?:default\s+)?)?class\s+(?P<cls>[A-Za-z_$][\w$]*)""",
    re.MULTILINE | re.VERBOSE,
)
_NOT_METHODS = {"if", "for", "while", "switch", "catch", "function", "return", "with"}


def functions(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of functions, methods (as Class.method) and arrow
    functions bound to names; a class's own span is not listed, only its methods."""
    found: list[tuple[str, int, int]] = []
    classes: list[tuple[str, int, int]] = []
    for match in _FUNCTION.finditer(source):
        if match.group("method") in _NOT_METHODS:
            continue
        name = match.group("fn") or match.group("var") or match.group("method")
        cls = match.group("cls")
        start = _line(source, match.start())
        text = match.group(0)
        if match.group("var") and text.rstrip().endswith("=>"):
            rest = source[match.end() :]
            if not rest.lstrip().startswith("{"):
                # `const f = (a) => a + 1;`: an expression body, to the end of its line.
                found.append((str(name), start, _line(source, match.end())))
                continue
        brace = source.find("{", match.end() - 1)
        close = matching(source, brace) if brace >= 0 else None
        if close is None:
            continue
        if cls is not None:
            classes.append((cls, start, _line(source, close)))
        else:
            found.append((str(name), start, _line(source, close)))
    named = []
    for name, start, end in found:
        owner = [c for c in classes if c[1] < start and end <= c[2]]
        named.append((f"{owner[-1][0]}.{name}" if owner else name, start, end))
    return sorted(named, key=lambda f: (f[1], -f[2]))


_TEST_CALL = re.compile(r"\b(?:it|test)(?:\.(?:only|concurrent))?\s*\(\s*(['\"`])")


def remove_tests(code: str, full_names: set[str]) -> str | None:
    """`code` without the `test(...)`/`it(...)` calls whose titles end the given full names
    (Jest and Vitest name a test by its describe blocks' titles and its own). None when a name
    matches no call, or more than one."""
    spans = []
    for full_name in full_names:
        hits = []
        for match in _TEST_CALL.finditer(code):
            quote = match.group(1)
            title_end = _skip_string(code, match.end() - 1)
            title = code[match.end() : title_end - 1]
            if quote == "`" and "${" in title:
                continue
            if full_name == title or full_name.endswith(" " + title):
                paren = code.find("(", match.start())
                close = matching(code, paren)
                if close is None:
                    return None
                end = close + 1
                while end < len(code) and code[end] in " \t;":
                    end += 1
                hits.append((match.start(), end))
        if len(hits) != 1:
            return None
        spans.append(hits[0])
    out = code
    for start, end in sorted(spans, reverse=True):
        line_start = out.rfind("\n", 0, start) + 1
        if out[line_start:start].strip():
            line_start = start  # something else precedes it on its line: keep that
        line_end = end + 1 if out[end : end + 1] == "\n" else end
        out = out[:line_start] + out[line_end:]
    return out


def cut_blocks(
    code: str, declaration: re.Pattern[str], names: set[str], *, rust: bool = False
) -> str | None:
    """`code` without the blocks whose declarations (`declaration`, naming its `name` group)
    name one of `names`: from the declaration's start to the brace closing its body. None
    when a name has no block or a block does not close."""
    wanted = set(names)
    spans = []
    for match in declaration.finditer(code):
        if match.group("name") not in wanted:
            continue
        brace = code.find("{", match.end())
        close = matching(code, brace, rust=rust) if brace >= 0 else None
        if close is None:
            return None
        spans.append((match.start(), close + 1))
        wanted.discard(match.group("name"))
    if wanted:
        return None
    for start, end in sorted(spans, reverse=True):
        code = code[:start] + code[end:].lstrip("\n")
    return code
