"""Laying sections out: terminal text, Markdown, CSV, and one self-contained HTML page.

Renderers only arrange what the builders computed; the HTML page inlines its
style and its SVG charts, so it is one file that opens anywhere offline.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from rnnbench.errors import RnnbenchError
from rnnbench.table import format_table

FORMATS = ("text", "markdown", "csv", "html")


@dataclass
class Meta:
    """What the whole report was made from, printed above or below the tables."""

    source: str
    summary: str = ""  # e.g. "30 records (30 run) from 1 machine: vm (AMD EPYC, 2 CPUs)"
    notes: list[str] = field(default_factory=list)


def render(fmt: str, sections, meta: Meta, figures=()) -> str:
    if fmt == "text":
        return render_text(sections, meta)
    if fmt == "markdown":
        return render_markdown(sections, meta)
    if fmt == "csv":
        return render_csv(sections)
    if fmt == "html":
        return render_html(sections, meta, figures)
    raise RnnbenchError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def render_text(sections, meta: Meta) -> str:
    lines = [f"{meta.source}: {meta.summary}".rstrip(": ")]
    for section in sections:
        lines += ["", section.title, "=" * len(section.title)]
        for block in section.blocks:
            lines += ["", block.title, format_table(block.header, block.rows)]
        lines += [""] + [f"note: {note}" for note in section.notes]
    lines += [f"note: {note}" for note in meta.notes]
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(sections, meta: Meta) -> str:
    lines = [f"Source: `{meta.source}`, {meta.summary}." if meta.summary else f"Source: `{meta.source}`."]
    for section in sections:
        lines += ["", f"## {section.title}"]
        for block in section.blocks:
            lines += ["", f"**{_md(block.title)}**", "", markdown_table(block.header, block.rows)]
        lines += [""] + [f"- {_md(note)}" for note in section.notes]
    if meta.notes:
        lines += [""] + [f"- {_md(note)}" for note in meta.notes]
    return "\n".join(lines).rstrip() + "\n"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_csv(sections) -> str:
    """One table's unformatted numbers; several tables do not fit one CSV, so that is refused."""
    if len(sections) != 1:
        names = ", ".join(s.name for s in sections)
        raise RnnbenchError(f"--format csv writes one table and {len(sections)} have data ({names}); "
                            f"choose one with --table")
    return sections[0].frame.to_csv(index=False)


def render_html(sections, meta: Meta, figures=()) -> str:
    body = ["<h1>rnnbench report</h1>", f"<p class=meta>{escape(meta.source)}: {escape(meta.summary)}</p>"]
    if meta.notes:
        body.append("<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in meta.notes) + "</ul>")
    for section in sections:
        body.append(f"<h2>{escape(section.title)}</h2>")
        for block in section.blocks:
            body.append(f"<h3>{escape(block.title)}</h3>")
            body.append(html_table(block.header, block.rows))
        if section.notes:
            body.append("<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in section.notes) + "</ul>")
    for heading, charts in figures:
        body.append(f"<h2>{escape(heading)}</h2>")
        body += [f"<figure>{svg}<figcaption>{escape(title)}</figcaption></figure>" for title, svg in charts]
    return HTML_PAGE.format(body="\n".join(body))


def html_table(header, rows) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    cells = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


def _md(text) -> str:
    return str(text).replace("|", "\\|")


HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rnnbench report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left; white-space: nowrap; }}
th {{ background: #f4f4f4; }}
tbody tr:hover {{ background: #fafafa; }}
.meta, .notes {{ color: #555; font-size: 0.9em; }}
figure {{ display: inline-block; margin: 0.5em 1em 1em 0; }}
figcaption {{ font-size: 0.8em; color: #555; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
