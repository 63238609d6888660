"""Functions that behave like a program's entry points, found by reading the source.

A search-based generator calls every public function it can reach with whatever arguments it
makes up. A command-line `main()` then parses the generator's own argv, waits on standard
input, or ends the process; at best its calls time out one by one and eat the budget, at worst
the generator never writes what it found. Such functions are left out of the search unless the
user asks for them; their lines stay in the report's gaps like any others.
"""

from __future__ import annotations

import ast

# Names that say "program", whatever the body does.
ENTRY_NAMES = frozenset(
    {"main", "_main", "__main__", "cli", "_cli", "run_cli", "console_main", "entry_point",
     "entrypoint", "command_line", "commandline", "repl", "interactive"}
)  # fmt: skip
# Calls that read the terminal, parse the process's arguments or end the process.
BLOCKING_CALLS = frozenset(
    {"input", "raw_input", "exit", "quit", "sys.exit", "os._exit", "os.abort", "os.kill",
     "getpass.getpass", "getopt.getopt", "getopt.gnu_getopt", "fileinput.input",
     "signal.pause", "code.interact", "pdb.set_trace", "breakpoint"}
)  # fmt: skip
BLOCKING_ATTRIBUTES = frozenset({"sys.stdin", "sys.argv", "sys.__stdin__"})


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _blocks(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Why calling `function` may block or end the process, or None."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in BLOCKING_CALLS:
                return f"calls {name}()"
            if name and name.endswith(("ArgumentParser", ".parse_args")):
                return "parses command-line arguments"
        elif isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name in BLOCKING_ATTRIBUTES:
                return f"uses {name}"
    return None


def entry_points(source: str) -> dict[str, str]:
    """Qualified names (`func`, `Class.method`) of the entry-point-like functions in `source`,
    each with why."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, str] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{node.name}"
                if node.name in ENTRY_NAMES:
                    found[name] = "named like a program's entry point"
                elif (why := _blocks(node)) is not None:
                    found[name] = why
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found
