"""Entry-point-like functions are found by reading the source."""

from __future__ import annotations

from assay.engines.entry_points import entry_points

SOURCE = """
import sys, os, argparse

def add(a, b):
    return a + b

def _main():
    return 0

def ask():
    return input("name? ")

def stop(code):
    sys.exit(code)

def hard_stop():
    os._exit(3)

def parse():
    return argparse.ArgumentParser().parse_args()

def echo():
    for line in sys.stdin:
        print(line)

class Tool:
    def run(self):
        return 1

    def cli(self):
        return self.run()

if __name__ == "__main__":
    _main()
"""


def test_blocking_and_exiting_functions_are_found_with_why() -> None:
    found = entry_points(SOURCE)
    assert set(found) == {"_main", "ask", "stop", "hard_stop", "parse", "echo", "Tool.cli"}
    assert found["ask"] == "calls input()"
    assert found["hard_stop"] == "calls os._exit()"
    assert found["echo"] == "uses sys.stdin"


def test_broken_source_finds_nothing() -> None:
    assert entry_points("def (:\n") == {}
