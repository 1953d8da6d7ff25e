"""Laying sections out: terminal text, Markdown, CSV, and one self-contained HTML page.

Renderers only arrange what the builders computed; the HTML page inlines its
style and its SVG charts, so it is one file that opens anywhere offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from rnnbench.errors import RnnbenchError
from rnnbench.table import format_table, one_line

FORMATS = ("text", "markdown", "csv", "html")


@dataclass
class Meta:
    """What the whole report was made from, printed above or below the tables."""

    source: str
    summary: str = ""  # e.g. "30 records (30 run) from 1 machine: vm (AMD EPYC, 2 CPUs)"
    notes: list[str] = field(default_factory=list)
    verbose: bool = False  # list every warning, not one line per kind
    width: int | None = None  # the terminal's columns, for text; None: no limit
    heading: int = 2  # Markdown level of a section's title (3 inside a document's own section, as in the README)


@dataclass
class Figure:
    """One chart: its title, its SVG text, and a file name for formats that link instead of inlining."""

    title: str
    svg: str
    name: str


def render(fmt: str, sections, meta: Meta, figures=()) -> str:
    if fmt == "text":
        return render_text(sections, meta)
    if fmt == "markdown":
        return render_markdown(sections, meta, figures)
    if fmt == "csv":
        return render_csv(sections)
    if fmt == "html":
        return render_html(sections, meta, figures)
    raise RnnbenchError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def render_text(sections, meta: Meta) -> str:
    width = meta.width
    lines = [_wrap(one_line(f"{meta.source}: {meta.summary}".rstrip(": ")), width)]
    for section in sections:
        title = one_line(section.title)
        lines += ["", title, "=" * len(title)]
        for block in section.blocks:
            lines += ["", _wrap(one_line(block.title), width), fit_table(block.header, block.rows, width, block.keys)]
            lines += [_wrap(one_line(f"note: {note}"), width) for note in block.notes]
        lines += [""] + [_wrap(one_line(f"note: {note}"), width) for note in section.notes]
        if section.details:
            lines += ["", "variants:"] + [_wrap(one_line(f"  {line}"), width) for line in section.details]
        if meta.verbose and section.verbose:
            lines += [""] + [_wrap(one_line(f"  {line}"), width) for line in section.verbose]
    lines += [_wrap(one_line(f"note: {note}"), width) for note in meta.notes]
    return "\n".join(lines).rstrip() + "\n"


def fit_table(header, rows, width: int | None, keys: int = 1) -> str:
    """The table, or, when wider than ``width``, the same rows in column groups that each fit, repeating the
    ``keys`` leading columns; a cell longer than a third of the width is cut with an ellipsis."""
    if width is None:
        return format_table(header, rows)
    cut = max(24, width // 3)
    header = [_cut(one_line(h), cut) for h in header]
    rows = [[_cut(one_line(c), cut) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    if sum(widths) + 2 * (len(widths) - 1) <= width:
        return format_table(header, rows)
    keys = min(keys, len(header) - 1)
    while keys > 1 and sum(widths[:keys]) + 2 * keys > width // 2:  # repeated names may take half the width
        keys -= 1
    base = sum(widths[:keys]) + 2 * keys
    groups, current, used = [], [], base
    for i in range(keys, len(header)):
        if current and used + widths[i] > width:
            groups.append(current)
            current, used = [], base
        current.append(i)
        used += widths[i] + 2
    groups.append(current)
    parts = []
    for group in groups:
        columns = list(range(keys)) + group
        parts.append(format_table([header[i] for i in columns], [[row[i] for i in columns] for row in rows]))
    return "\n\n".join(parts)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    import textwrap

    return "\n".join(textwrap.wrap(text, width, subsequent_indent="    ", break_on_hyphens=False))


def render_markdown(sections, meta: Meta, figures=()) -> str:
    source = _md_code(meta.source)
    lines = [f"Source: {source}, {_md(meta.summary)}." if meta.summary else f"Source: {source}."]
    for section in sections:
        lines += ["", f"{'#' * meta.heading} {_md(section.title)}"]
        for block in section.blocks:
            lines += ["", f"**{_md(block.title)}**", "", markdown_table(block.header, block.rows)]
            lines += [""] + [_md_note(note) for note in block.notes] if block.notes else []
        lines += [""] + [f"- {_md_note(note)}" for note in section.notes]
        if section.details:
            lines += ["", "<details><summary>Variants: every option a label abbreviates</summary>", ""]
            lines += [f"- {_md(line)}" for line in section.details] + ["", "</details>"]
        if meta.verbose and section.verbose:
            lines += [""] + [f"- {_md_note(line)}" for line in section.verbose]
    for heading, charts in figures:
        lines += ["", f"{'#' * meta.heading} {_md(heading)}", ""]
        lines += [f"![{_md(f.title)}]({f.name})" for f in charts]
    if meta.notes:
        lines += [""] + [f"- {_md_note(note)}" for note in meta.notes]
    return "\n".join(lines).rstrip() + "\n"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_csv(sections) -> str:
    """One table's unformatted numbers; several tables do not fit one CSV, so that is refused."""
    sections = [s for s in sections if s.name != "summary"] if len(sections) > 1 else sections
    if sections and sections[0].name == "summary":
        raise RnnbenchError("the summary has no CSV form (its cells are text); choose a detailed table with --table")
    if len(sections) != 1:
        names = ", ".join(s.name for s in sections)
        raise RnnbenchError(
            f"--format csv writes one table and {len(sections)} have data ({names}); choose one with --table"
        )
    return sections[0].frame.to_csv(index=False)


def render_html(sections, meta: Meta, figures=()) -> str:
    body = ["<h1>rnnbench report</h1>", f"<p class=meta>{escape(meta.source)}: {escape(meta.summary)}</p>"]
    if meta.notes:
        body.append("<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in meta.notes) + "</ul>")
    for section in sections:
        body.append(f"<section id={escape(section.name)}><h2>{escape(section.title)}</h2>")
        summary = section.name == "summary"
        if summary:
            body.append("<div class=grid>")
        for block in section.blocks:
            body.append(f"<div class=block><h3>{escape(block.title)}</h3>")
            body.append(html_table(block.header, block.rows, block.keys))
            body += [f"<p class=notes>{escape(n)}</p>" for n in block.notes]
            body.append("</div>")
        if summary:
            body.append("</div>")
        if section.notes:
            body.append("<ul class=notes>" + "".join(f"<li>{escape(n)}</li>" for n in section.notes) + "</ul>")
        if section.details:
            body.append(
                "<details><summary>Variants: every option a label abbreviates</summary><ul class=notes>"
                + "".join(f"<li>{escape(n)}</li>" for n in section.details)
                + "</ul></details>"
            )
        if section.verbose:
            body.append(
                f"<details><summary>Every warning ({len(section.verbose)})</summary><ul class=notes>"
                + "".join(f"<li>{escape(n)}</li>" for n in section.verbose)
                + "</ul></details>"
            )
        body.append("</section>")
        if summary and figures:  # the charts right after the tables they draw
            body += _html_figures(figures)
    if not any(s.name == "summary" for s in sections):
        body += _html_figures(figures)
    return HTML_PAGE.format(body="\n".join(body))


def _html_figures(figures) -> list[str]:
    body = []
    for heading, charts in figures:
        body.append(f"<h2>{escape(heading)}</h2>")
        body += [f"<figure>{f.svg}<figcaption>{escape(f.title)}</figcaption></figure>" for f in charts]
    return body


def html_table(header, rows, keys: int = 1) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    text = {i for i in range(len(header)) if _text_column([row[i] for row in rows if i < len(row)])}
    cells = "".join(
        "<tr>"
        + "".join(f"<td{_cell_class(i, c, keys, i in text)}>{escape(str(c))}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></div>"


def _text_column(values) -> bool:
    """Words, not numbers: most filled cells do not start like a number (aligned left, as row names are)."""
    filled = [str(v) for v in values if str(v) not in ("-", "")]
    return bool(filled) and sum(not v[:1].isdigit() and v[:1] not in "+-." for v in filled) * 2 > len(filled)


def _cell_class(index: int, value, keys: int, text: bool = False) -> str:
    """Row names and words align left; long text (a source, a variant) may wrap, so no table is wider than the page."""
    classes = (["k"] if index < keys or text else []) + (["w"] if len(str(value)) > WRAP_AFTER else [])
    return f" class='{' '.join(classes)}'" if classes else ""


WRAP_AFTER = 15  # characters; numbers and short labels never wrap ("5.14 ±3.7% (33%)" may)


#: What Markdown (CommonMark with GitHub's tables and strikethrough) could read as markup in a name: a
#: backslash, code, emphasis, a link or image, strikethrough, a cell separator, raw HTML and entities
#: (``&`` only where it starts one: "Shah & Bengio" stays). An underscore inside a word (``root_fine``,
#: ``max_steps``) is never emphasis and stays as it is.
_MD_MARKUP = re.compile(r"[\\`*\[\]~|<>]|&(?=#?\w+;)|(?<![^\W_])_|_(?![^\W_])")
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def _md(text) -> str:
    """Text from a record or a user (a dataset, a host, a variant) as one line of Markdown that shows it as
    typed: in a table cell, a title or a list item, never a tag, a link, emphasis, an extra cell or row."""
    return _MD_MARKUP.sub(lambda m: _MD_ENTITIES.get(m.group(), "\\" + m.group()), one_line(text))


def _md_note(text) -> str:
    """A note the report wrote, whose `code spans` (a command to run) stay code; all else as :func:`_md`.
    Inside a code span nothing is markup, so a name there is shown as typed too."""
    parts = re.split(r"(`[^`]*`)", one_line(text))
    return "".join(part if i % 2 else _md(part) for i, part in enumerate(parts))


def _md_code(text) -> str:
    """``text`` as one inline code span, fenced by more backticks than any run inside it."""
    text = one_line(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rnnbench report</title>
<style>
* {{ box-sizing: border-box; }}
body {{ font-family: system-ui, sans-serif; margin: 1em auto; max-width: 76em; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.4em; margin: 0.3em 0; }} h2 {{ font-size: 1.2em; margin: 1em 0 0.3em; }}
h3 {{ font-size: 0.95em; margin: 0.6em 0 0.2em; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 0 2em; }}
.block {{ max-width: 100%; }}
.scroll {{ max-width: 100%; overflow-x: auto; }}
table {{ border-collapse: collapse; margin: 0.2em 0 0.8em; font-size: 0.8em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }}
th, td.k, td.w {{ text-align: left; }}
td {{ white-space: nowrap; }}
td.w {{ white-space: normal; min-width: 6em; max-width: 22em; }}
th {{ max-width: 12em; }}
th {{ background: #f4f4f4; font-weight: 600; }}
tbody tr:hover {{ background: #fafafa; }}
.meta, .notes {{ color: #555; font-size: 0.85em; }}
details {{ margin: 0.3em 0 1em; }}
figure {{ display: inline-block; margin: 0.5em 1em 1em 0; max-width: 100%; }}
figure svg {{ max-width: 100%; height: auto; }}
figcaption {{ font-size: 0.8em; color: #555; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
