"""docs/plugins.md's list of the public API, generated from :data:`rnnbench.API`.

``python -m rnnbench.api_docs`` rewrites the block between the markers below in
docs/plugins.md; ``--check`` only says whether it is current (exit 1 if not).
``tests/test_public_api.py`` keeps the two equal.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import rnnbench

BEGIN = "<!-- BEGIN generated api: python -m rnnbench.api_docs -->"
END = "<!-- END generated api -->"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _summary(value) -> str:
    """What a name holds, in one line: a function's or class's first docstring paragraph, else its value."""
    if inspect.isfunction(value) or inspect.isclass(value):
        doc = inspect.getdoc(value) or ""
        return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")
    text = repr(value)
    if " at 0x" not in text and len(text) <= 60:
        return f"`{text}`".replace("|", "\\|")
    return f"a `{type(value).__name__}`"


def render() -> str:
    """The generated block, markers included: one table row a public name, in :data:`rnnbench.API`'s order."""
    lines = [BEGIN, "", "| name | defined in | what |", "|---|---|---|"]
    for name, (module, attribute) in rnnbench.API.items():
        where = f"`{module}.{attribute}`"
        lines.append(f"| `{name}` | {where} | {_summary(getattr(rnnbench, name))} |")
    lines += ["", END]
    return "\n".join(lines)


def current(text: str) -> str:
    """The generated block as ``text`` holds it (markers included); a one-line error when the markers are missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{DOCS}: the markers {BEGIN!r} ... {END!r} are missing")
    return text[start : end + len(END)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnbench.api_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/plugins.md's list is not current")
    args = parser.parse_args(argv)
    text = DOCS.read_text(encoding="utf-8")
    old, new = current(text), render()
    if args.check:
        if old != new:
            print(f"{DOCS}: the public API list is stale; run python -m rnnbench.api_docs", file=sys.stderr)
            return 1
        return 0
    if old != new:
        DOCS.write_text(text.replace(old, new), encoding="utf-8")
        print(f"updated {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
