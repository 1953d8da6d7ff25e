"""Driving ``rnnbench`` in-process the way a user meets it, for every test module (not a test module itself).

:func:`invoke` runs a command through :func:`rnnbench.cli.main` and returns its exit code and what it
printed; the ``rnnbench_cli`` fixture (tests/conftest.py) is the same bound to the test's ``capsys``.
:func:`one_line_error` checks the shape every user mistake must take: exit 2, one line on stderr,
``rnnbench: error: `` first.
"""

from __future__ import annotations

from typing import NamedTuple

from rnnbench import cli


class CliResult(NamedTuple):
    """What ``rnnbench ARGV`` did: its exit code and what it wrote to stdout and stderr."""

    code: int
    out: str
    err: str


def invoke(capsys, *argv) -> CliResult:
    """``rnnbench ARGV`` through :func:`rnnbench.cli.main`; each argument is passed as ``str``."""
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def one_line_error(code, err, *words) -> str:
    """The single error line, after checking exit 2, one line, the prefix and every expected word."""
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rnnbench: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def bench_request(*argv, registry=None):
    """The typed request ``rnnbench bench ARGV`` makes (:func:`rnnbench.bench.request.parse_request`)."""
    from rnnbench.bench.request import parse_request

    args = cli.build_parser(["bench", *argv]).parse_args(["bench", *(str(a) for a in argv)])
    return parse_request(args, registry)
