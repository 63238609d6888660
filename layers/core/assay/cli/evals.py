"""`assay eval`: run a suite through the gateway and gate on it, compare runs, calibrate a
judge against people. Exit codes: 0 the gate holds, 1 it does not, 2 the suite, dataset,
baseline or models are wrong (nothing is written then)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import click

from assay.cli.context import CliContext
from assay.errors import AssayError

USAGE_ERROR = 2


class _Usage(click.ClickException):
    """A wrong suite, dataset, baseline or model: exit 2, as click's own usage errors."""

    exit_code = USAGE_ERROR

    def show(self, file: Any = None) -> None:
        click.secho(f"error: {self.message}", fg="red", err=True)


@click.group("eval")
def eval_group() -> None:
    """Evaluate LLM applications: run suites, compare runs, calibrate judges."""


@eval_group.command("run")
@click.argument("suite_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--baseline", help="A previous run to compare with: its directory, its "
              "results.json, or its run id (kept under ASSAY_HOME/evals).")  # fmt: skip
@click.option("--fail-on-regression", is_flag=True,
              help="Exit 1 when an item that passed in the baseline fails now.")  # fmt: skip
@click.option("--min-pass-rate", type=click.FloatRange(0, 1),
              help="Exit 1 when the pass rate is under this (0 to 1).")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write results.json, summary.md, junit.xml and evidence/ "
              "(default: ASSAY_HOME/evals/RUN_ID).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print results.json to stdout.")
@click.option("--server", help="Send the items through this Assay server's gateway "
              "(default: here, through this machine's own).")  # fmt: skip
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="ASSAY_NAME=value lines, or YAML with `settings:` and a LiteLLM-style "
              "`model_list:` naming the models the suite uses.")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Ask judges again instead of reusing answers.")
@click.pass_obj
def run(
    obj: CliContext, suite_file: Path, baseline: str | None, fail_on_regression: bool,
    min_pass_rate: float | None, concurrency: int, out: Path | None, as_json: bool,
    server: str | None, config_file: Path | None, no_cache: bool,
) -> None:  # fmt: skip
    """Run SUITE_FILE: every item through the gateway, scored, gated, written and sealed."""
    from assay.evals import session

    obj.config_file = config_file
    try:
        prepared = session.prepare(obj.settings, suite_file, baseline=baseline, server=server,
                                   ports=None if server else obj.ports,
                                   config_file=config_file)  # fmt: skip
    except AssayError as exc:
        raise _Usage(exc.message + (f" (fix: {exc.fix})" if exc.fix else "")) from None
    run_id = "ev_" + uuid.uuid4().hex[:16]
    target = out or obj.settings.home / "evals" / run_id
    bar = _Bar(len(prepared.items), quiet=as_json)
    kept: list[session.Outcome] = []

    async def execute() -> None:
        # Kept aside, not returned: Python 3.11's asyncio.run builds a repr of the main
        # task's result on exit, which for a large run costs seconds and megabytes.
        kept.append(await session.execute(
            prepared, run_id=run_id, out=target, concurrency=concurrency, cache=not no_cache,
            fail_on_regression=fail_on_regression, min_pass_rate=min_pass_rate, on_item=bar,
        ))  # fmt: skip

    asyncio.run(execute())
    outcome = kept[0]

    bar.close()
    results = outcome.results
    if as_json:
        click.echo((target / "results.json").read_text(), nl=False)
    else:
        s = results.summary
        click.echo(f"{results.suite}: {s.passed}/{s.items} passed, {s.failed} failed, "
                   f"{s.errors} errors (pass rate {100 * s.pass_rate:.1f}%), "
                   f"{s.tokens} tokens, ${s.cost_usd:.4f}, {s.duration_s:.1f} s")  # fmt: skip
        if outcome.comparison is not None:
            c = outcome.comparison
            click.echo(f"against {c.baseline}: {c.verdict}")
        for reason in outcome.gate_reasons:
            click.echo(f"gate: {reason}")
        click.echo(f"run {run_id}: {target}")
    sys.exit(0 if results.gate_held else 1)


@eval_group.command("compare")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("baseline", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--fail-on-regression", is_flag=True)
def compare(run_dir: Path, baseline: Path, as_json: bool, fail_on_regression: bool) -> None:
    """Compare the run in RUN_DIR with the run in BASELINE (directories or results.json)."""
    from assay.evals.compare import compare as paired
    from assay.evals.compare import markdown
    from assay.evals.outputs import read_results

    try:
        now, before = read_results(run_dir), read_results(baseline)
    except (OSError, ValueError) as exc:
        raise _Usage(f"cannot read a run's results: {exc}") from None
    found = paired(now, before, before.run_id or str(baseline))
    click.echo(found.model_dump_json(indent=1) if as_json else markdown(found))
    sys.exit(1 if fail_on_regression and found.regressions else 0)


@eval_group.command("calibrate")
@click.argument("suite_file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("labels", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--judge", "judge_name", help="Which of the suite's judges (default: its first).")
@click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--server", help="Call the judge through this Assay server's gateway.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def calibrate(
    obj: CliContext, suite_file: Path, labels: Path, judge_name: str | None, concurrency: int,
    as_json: bool, server: str | None, config_file: Path | None,
) -> None:  # fmt: skip
    """Score a judge of SUITE_FILE against people's LABELS (JSONL: id, input, output,
    human_score): agreement, Cohen's kappa, mean absolute deviation, worst disagreements."""
    from assay.evals import session
    from assay.evals.calibrate import load_labels, markdown

    obj.config_file = config_file
    try:
        prepared = session.prepare(obj.settings, suite_file, server=server,
                                   ports=None if server else obj.ports, config_file=config_file,
                                   judge_only=judge_name or "")  # fmt: skip
        found = load_labels(labels)
        judge = session.pick_judge(prepared.suite, judge_name)
    except AssayError as exc:
        raise _Usage(exc.message + (f" (fix: {exc.fix})" if exc.fix else "")) from None
    result = asyncio.run(session.calibrate(prepared, judge, found, concurrency=concurrency))
    click.echo(result.model_dump_json(indent=1) if as_json else markdown(result), nl=False)


class _Bar:
    """Progress on stderr: a redrawn line on a terminal, a line per tenth otherwise."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.tty = sys.stderr.isatty()
        self.step = max(1, total // 10)

    def __call__(self, result: object) -> None:
        if result is not None:
            return
        self.done += 1
        if self.quiet:
            return
        if self.tty:
            filled = int(30 * self.done / max(1, self.total))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            sys.stderr.flush()
        elif self.done % self.step == 0 or self.done == self.total:
            sys.stderr.write(f"{self.done}/{self.total} items answered\n")

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")
