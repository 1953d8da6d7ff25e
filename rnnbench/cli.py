"""The ``rnnbench`` command line: parsing and dispatch only.

Subcommands import what they need inside their handler, so ``rnnbench --help``
costs no framework import.
"""

from __future__ import annotations

import argparse
import os
import sys

from rnnbench import __version__
from rnnbench.errors import RnnbenchError


class Parser(argparse.ArgumentParser):
    """argparse, except that a number option's value outside its rule (:mod:`rnnbench.number_types`) is one
    line naming the option (``--lr must be positive, got 0``) rather than a usage dump; every subcommand's
    parser is one of these (argparse gives subparsers their parent's class)."""

    def _get_value(self, action, arg_string):
        from rnnbench.number_types import NumberType

        if isinstance(action.type, NumberType):
            return action.type.check(arg_string, "/".join(action.option_strings) or action.dest)
        return super()._get_value(action, arg_string)


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The parser of every registered command (builtin or a plugin's), in registration order."""
    from rnnbench.plugins import failure, get_registry

    parser = Parser(
        prog="rnnbench",
        description="Recurrent and recursive networks in NumPy, PyTorch, TensorFlow and plugins: "
        "the same function, checked, timed and trained.",
    )
    parser.add_argument("--version", action="version", version=f"rnnbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    registry = get_registry()
    for entry in registry.commands.values():
        try:
            entry.load()(commands, argv)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin command must not break the others, not even by sys.exit()
            registry.errors.append(f"command {entry.name!r} ({entry.distribution}) could not be added: {failure(exc)}")
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        code = _main(argv)
    except KeyboardInterrupt as exc:  # Ctrl-C before the handlers are in place: while plugins are imported
        from rnnbench import signals

        print(f"rnnbench: interrupted by {signals.describe(exc)}", file=sys.stderr)
        return signals.exit_status(exc)
    try:
        sys.stdout.flush()  # a full disk or device behind stdout is one line here, not a traceback at exit
    except BrokenPipeError:
        silence_stdout()
        return 141
    except OSError as exc:
        silence_stdout()
        print(f"rnnbench: error: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return code


def silence_stdout() -> None:
    """Send what is still buffered for stdout nowhere, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor behind stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (nothing more may reach the failed stdout)


def _main(argv) -> int:
    parser = build_parser(argv)
    try:
        args, unknown = parser.parse_known_args(argv)
    except RnnbenchError as exc:  # a number option out of its range (Parser): one line, as argparse's exit 2
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return 2
    if unknown:  # one line naming where the options are, rather than argparse's usage dump
        where = (
            f"the {args.task} task"
            if getattr(args, "task", None) and args.command == "run"
            else f"rnnbench {args.command}"
            if getattr(args, "command", None)
            else "rnnbench"
        )
        hint = f"`rnnbench run --task {args.task} --help`" if where.startswith("the ") else f"`{where} --help`"
        print(
            f"rnnbench: error: unrecognized arguments: {' '.join(unknown)} (not options of {where}; see {hint})",
            file=sys.stderr,
        )
        return 2
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    from rnnbench import signals

    try:
        with signals.handled():  # SIGTERM and SIGHUP stop a command as Ctrl-C does
            return args.handler(args)
    except RnnbenchError as exc:
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other tools do
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (nothing more may reach the closed pipe)
        return 141
    except KeyboardInterrupt as exc:
        print(f"rnnbench: interrupted by {signals.describe(exc)}", file=sys.stderr)
        return signals.exit_status(exc)
    except OSError as exc:
        if not _stdout_refuses_writes():
            raise
        silence_stdout()
        print(f"rnnbench: error: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _stdout_refuses_writes() -> bool:
    """True when standard output is a device that refuses every write (``> /dev/full``): the error came from it."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): not this case
        return False
    try:
        os.write(fd, b"")
    except OSError:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
