"""`assay`: the command line. Errors print one clear line (and a fix), never a traceback."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from assay import __version__
from assay.cli.context import CliContext
from assay.errors import AssayError


class AssayGroup(click.Group):
    """Turns Assay's errors into `error:`/`fix:` lines and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssayError as exc:
            _fail(exc.message, exc.fix)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", None, code=130)
        except Exception as exc:
            obj = ctx.find_object(CliContext)
            if obj is not None and obj.debug:
                traceback.print_exc()
            _fail(
                f"unexpected {type(exc).__name__}: {exc}",
                "rerun with `assay --debug ...` and report the output",
            )
        finally:
            obj = ctx.find_object(CliContext)
            if obj is not None:
                obj.close()


def _fail(message: str, fix: str | None, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    if fix:
        click.echo(f"fix: {fix}", err=True)
    sys.exit(code)


@click.group(cls=AssayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="assay")
@click.option("--debug", is_flag=True, help="Show debug logs and tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Assay: find what your tests miss, generate tests for it, keep only what holds."""
    ctx.obj = CliContext(debug=debug)


def _register() -> None:
    from assay.cli import admin, analyze, doctor, evals, serve, verify

    cli.add_command(analyze.analyze)
    cli.add_command(serve.serve)
    cli.add_command(doctor.doctor)
    cli.add_command(verify.verify)
    cli.add_command(evals.eval_group)
    cli.add_command(admin.tenants)
    cli.add_command(admin.keys)


_register()


def main() -> None:
    cli(prog_name="assay")


if __name__ == "__main__":
    main()
