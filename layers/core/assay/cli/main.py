"""`assay`: the command line. Errors print one clear line (and a fix), never a traceback."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from assay import __version__
from assay.cli.context import CliContext
from assay.errors import AssayError

# Subcommands by name -> (module, attribute): imported only when used, so `assay eval run`
# never pays for the API server's or the analysis pipeline's imports.
COMMANDS = {
    "analyze": ("assay.cli.analyze", "analyze"),
    "serve": ("assay.cli.serve", "serve"),
    "doctor": ("assay.cli.doctor", "doctor"),
    "verify": ("assay.cli.verify", "verify"),
    "eval": ("assay.cli.evals", "eval_group"),
    "tenants": ("assay.cli.admin", "tenants"),
    "keys": ("assay.cli.admin", "keys"),
}


class AssayGroup(click.Group):
    """Turns Assay's errors into `error:`/`fix:` lines and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = COMMANDS.get(cmd_name)
        if found is None:
            return None
        import importlib

        command: click.Command = getattr(importlib.import_module(found[0]), found[1])
        return command

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


def main() -> None:
    cli(prog_name="assay")


if __name__ == "__main__":
    main()
