"""The ``dlmctl`` command line. Each command group lives in its own module and registers itself on
``app``; :func:`main` turns known errors into one line on stderr and an exit code."""

from __future__ import annotations

import os
import sys

import typer

from dlmctl.errors import DlmctlError, UsageError

app = typer.Typer(help="Controllable text generation with Diffusion-LM.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def _print_version(value: bool) -> None:
    if value:
        from dlmctl import __version__

        print(f"dlmctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.", envvar="DLMCTL_DEBUG"),
          version: bool = typer.Option(False, "--version", help="Print dlmctl's version and exit.",
                                       callback=_print_version, is_eager=True)) -> None:
    if debug:
        os.environ["DLMCTL_DEBUG"] = "1"


def _register_commands() -> None:
    """dlmctl's own commands, then those plugins contribute (``register_commands`` hook); a plugin
    command whose name is taken is left out with a warning."""
    from dlmctl.cli import (  # noqa: F401  (each module registers its commands on app)
        annotate,
        controls,
        evaluate,
        export,
        generate,
        install,
        plugins,
        serve,
        teacher,
        train,
        train_control,
    )
    from dlmctl.plugins import get_host

    host = get_host()
    taken = {command.name: command.callback for command in app.registered_commands}
    taken.update({group.name: None for group in app.registered_groups})
    for name, function in host.commands().items():
        if taken.get(name, function) is not function:
            host.warnings.append(f"a plugin's command '{name}' is left out: dlmctl has a command of that name")
        elif name not in taken:              # (main() may run more than once in one process)
            app.command(name)(function)


def _check_arguments(arguments: list[str]) -> None:
    """A usage error for a command-line argument that is not UTF-8 text (the shell passed bytes
    Python could not decode), before any command sees it."""
    for position, argument in enumerate(arguments, 1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UsageError(f"argument {position} ({argument[:exc.start]!r}…) is not UTF-8 text; "
                             "expected UTF-8 words") from None


def _debugging() -> bool:
    """Whether tracebacks are wanted (``--debug`` or ``DLMCTL_DEBUG=1``)."""
    return os.environ.get("DLMCTL_DEBUG", "").lower() in ("1", "true", "yes", "on")


def main() -> None:
    if os.environ.get("DLMCTL_DEBUG") is not None and not _debugging():
        os.environ.pop("DLMCTL_DEBUG")       # DLMCTL_DEBUG=0 (or anything but 1/true/yes/on): off
    try:
        _check_arguments(sys.argv[1:])
        _register_commands()
        code = app(standalone_mode=False)   # an interrupt in a command comes back as the code 130
    except DlmctlError as exc:
        if _debugging():
            raise
        print(f"error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # typer/click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is None or _debugging():
            raise
        if hasattr(exc, "format_message"):      # the parser's usage errors, in the same one-line form
            command = getattr(getattr(exc, "ctx", None), "command_path", "dlmctl")
            print(f"error: {exc.format_message()} (see {command} --help)", file=sys.stderr)
        sys.exit(code)
    if code == 130:
        print("interrupted", file=sys.stderr)
    if isinstance(code, int) and code:
        sys.exit(code)
