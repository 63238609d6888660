"""`assay doctor`."""

from __future__ import annotations

import click

from assay import doctor as checks
from assay.cli.context import CliContext

_MARK = {
    checks.Status.OK: ("ok", "green"),
    checks.Status.WARN: ("warn", "yellow"),
    checks.Status.FAIL: ("FAIL", "red"),
}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def doctor(obj: CliContext, as_json: bool) -> None:
    """Check this installation: profile, stores, key file, Redis, sandbox, runtimes."""
    report = checks.run(obj.settings)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        click.echo(f"assay {report.version} ({report.profile.value} profile)")
        width = max(len(c.name) for c in report.checks)
        for check in report.checks:
            label, color = _MARK[check.status]
            click.echo(
                f"  {click.style(f'{label:>4}', fg=color)}  {check.name:<{width}}  {check.detail}"
            )
            if check.fix:
                click.echo(f"        {'':<{width}}  fix: {check.fix}")
    if not report.ok:
        raise SystemExit(1)
