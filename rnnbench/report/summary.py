"""The report's first screen: the backends side by side, one table per question.

The detailed tables put one backend a row; here the backends are columns, so
comparing numpy, torch and tensorflow on one model means reading one row.
Accuracy: one table per task × dataset × metric (cells mean ± sd (n seeds) on
test); speed: each backend's fastest impl per cell, size and pass; parity:
one row per backend × dtype; then what each task adds of its own
(``Task.summary_blocks``: long-range, the largest T solved). Each builder
reuses the detailed table's own aggregation, so the two never disagree.
"""

from __future__ import annotations

import re

import pandas as pd

from rnnbench.report.accuracy import GROUP, summarise_runs
from rnnbench.report.cost import COST_NOTE, COST_NOTE_BRIEF, check_target, cost_block, declared_target
from rnnbench.report.hooks import task_summaries
from rnnbench.report.section import Block, Section, mean_sd, missing, row_keys, sig
from rnnbench.report.speed import shape_label
from rnnbench.report.trust import median_text, ratio_text, shown_ratio
from rnnbench.report.variants import DEFAULT_LABEL, details, variant_labels

#: The impl a backend runs unless told otherwise; any other is named in its cell.
DEFAULT_IMPLS = ("native", "level-batched", "-")
BACKEND_ORDER = ("numpy", "torch", "tensorflow", "jax")


def summary_section(frame) -> Section | None:
    """Every summary table that has data, as one section (None when none has)."""
    blocks, notes, lines = [], [], []
    brief = frame.attrs.get("brief")  # the README: the accuracy, cost, speed and parity tables; the rest in report.md
    for build in (_accuracy, _speed, _parity):
        built, built_notes, built_lines = build(frame)
        blocks += built
        notes += built_notes
        lines += [(text, place, False) for text, place in built_lines]
    built, built_notes, built_lines = task_summaries(frame, bool(brief))  # each task's own, after the core's
    blocks += built
    notes += built_notes
    lines += [(text, place, True) for text, place in built_lines]
    if not blocks:
        return None
    return Section(
        "summary",
        "Summary",
        pd.DataFrame(),
        blocks,
        notes,
        details=_grouped(lines),
        verbose=kernel_warning_lines(frame),
    )


def _grouped(entries) -> list[str]:
    """One line per variant, naming where it ran, ``(text, place, a task's own)`` merged into
    ``"label": options (textclf imdb lstm, textclf trec lstm; longrange adding rnn, gru; longrange copy lstm)``:
    a model whose place repeats the one before is named alone, and a task's own place (from its
    ``summary_blocks``) is set apart by a semicolon."""
    where = {}
    for text, place, apart in entries:
        places = where.setdefault(text, [])
        if (place, apart) not in places:
            places.append((place, apart))
    lines = []
    for text, places in where.items():
        named, last = "", None
        for place, apart in places:
            head, _, model = place.rpartition(" ")
            part = model if head == last else place
            named += ("" if not named else "; " if apart and part == place else ", ") + part
            last = head
        lines.append(f"{text} ({named})")
    return lines


def backend_sort_key(name: str):
    """numpy, torch, tensorflow first (the reference, then the frameworks), the rest by name."""
    base = str(name).split(" ")[0]
    return (BACKEND_ORDER.index(base) if base in BACKEND_ORDER else len(BACKEND_ORDER), str(name))


# --- accuracy ------------------------------------------------------------------------------------------------


def cost_section(frame) -> Section | None:
    """``rnnbench report --table cost``: the training-cost tables of the summary alone, numbers for CSV."""
    costs = []
    _accuracy(frame, costs)
    if not costs:
        return None
    numbers = pd.DataFrame(
        [
            {"table": (block.title if block else note.split(": training cost")[0]), **row}
            for block, rows, note in costs
            for row in rows
        ]
    )
    return Section(
        "cost",
        "Training cost",
        numbers,
        [block for block, _, _ in costs if block is not None],
        notes=[COST_NOTE] + [note for _, _, note in costs if note],
    )


def _runs_by_cell(runs) -> dict:
    """``GROUP values -> [record, ...]``: the runs each summary row averages (the latest of a repeated seed)."""
    runs = runs.assign(
        model=runs["model"].fillna("-"), impl=runs["impl"].fillna("-"), device=runs["device"].fillna("cpu")
    )
    latest = runs.sort_values("started_at", kind="stable").drop_duplicates(GROUP + ["seed"], keep="last")
    return {key: list(rows["record"]) for key, rows in latest.groupby(GROUP, sort=False)}


def _target(frame, task: str, dataset: str, metric: str, percent: bool):
    given = frame.attrs.get("target")  # rnnbench report --target VALUE, in the table's unit
    return check_target(given, metric, percent) if given is not None else declared_target(task, dataset, metric)


def _accuracy(frame, costs=None):
    """The accuracy tables, each followed by its training-cost table; ``costs`` (a list) receives every cost
    table as ``(block or None, numbers, one line when there is no block)``."""
    costs = [] if costs is None else costs
    runs = frame[(frame["kind"] == "run") & (frame["status"] == "ok")]
    if "seq_len" in runs.columns:  # long-range runs: their task summarises them (the largest T solved)
        runs = runs[runs["seq_len"].isna()]
    if runs.empty:
        return [], [], []
    table = summarise_runs(runs)
    records = _runs_by_cell(runs)
    table["column"] = [backend_column(b, i, d) for b, i, d in zip(table["backend"], table["impl"], table["device"])]
    blocks, lines = [], []
    split = [_table_split(t, diff) for t, diff in zip(table["task"], table["variant_diff"])]
    table = table.assign(
        split_title=[title for title, _, _ in split],
        split_value=[value for _, _, value in split],
        variant_diff=[diff for _, diff, _ in split],
    )
    for (task, dataset, metric, heading), part in table.groupby(
        ["task", "dataset", "metric", "split_title"], sort=True
    ):
        labels = variant_labels(dict(zip(part["config_key"], part["variant_diff"])))
        part = part.assign(variant=part["config_key"].map(labels))
        columns = sorted(part["column"].unique(), key=backend_sort_key)
        percent = bool(part["percent"].all())
        show_variant = bool((part["variant"] != DEFAULT_LABEL).any())
        header = ["model"] + (["variant"] if show_variant else []) + columns + ["spread", "published"]
        rows, cost_rows = [], []
        for (model, variant), group in ordered_by_model(part.groupby(["model", "variant"], sort=False)):
            cells = {r["column"]: r for _, r in group.iterrows()}
            cost_rows.append(
                (
                    [model] + ([variant] if show_variant else []),
                    {c: records.get(tuple(r[g] for g in GROUP), []) for c, r in cells.items()},
                )
            )
            means = [_test(r)[0] for r in cells.values() if not missing(_test(r)[0])]
            scale = 100.0 if percent else 1.0
            row = [model] + ([variant] if show_variant else [])
            for column in columns:
                r = cells.get(column)
                if r is None:
                    row.append("-")
                    continue
                mean, sd = _test(r)
                row.append(f"{mean_sd(mean, sd, r['n'], scale, 1 if percent else None)} ({r['n']})")
            spread = max(means) - min(means) if len(means) > 1 else None
            row.append("-" if spread is None else (f"{100 * spread:.1f} pt" if percent else sig(spread, 2)))
            row.append(_published(group, metric))
            rows.append(row)
            if variant.endswith("…"):  # the label abbreviates: the details say the rest
                lines.append((f'"{variant}": {details(group["variant_diff"].iloc[0])}', f"{task} {dataset} {model}"))
        header, rows = _without_empty(header, rows, ("spread", "published"))
        better = "" if part["higher_is_better"].all() else " (lower is better)"
        title = f"{task} {dataset}{', ' + heading if heading else ''}: test {metric}{' %' if percent else ''}{better}"
        blocks.append(
            Block(
                title,
                header,
                rows,
                keys=2 if show_variant else 1,
                source=(task, dataset),
                models=tuple(part["model"].unique()),
                split=_split_value(task, part),
            )
        )
        higher = bool(part["higher_is_better"].all())
        cost, numbers, instead = cost_block(
            f"training cost, {task} {dataset}{', ' + heading if heading else ''}",
            cost_rows,
            columns,
            keys=2 if show_variant else 1,
            percent=percent,
            target=_target(frame, task, dataset, metric, percent),
            higher=higher,
            metric=metric,
            brief=bool(frame.attrs.get("brief")),
        )
        costs.append((cost, numbers, f"{title}: {instead}" if instead else None))
        if cost is None:
            blocks[-1].notes.append(instead)
        else:
            cost.numbers = numbers
            blocks.append(cost)
    notes = [
        "accuracy: test mean ± sample sd over seeds (n), read at the best dev point; spread: largest minus "
        "smallest backend mean",
        COST_NOTE_BRIEF if frame.attrs.get("brief") else COST_NOTE,
    ]
    return blocks, notes, lines


def _table_split(task: str, diff: dict) -> tuple[str, dict, tuple | None]:
    """``(title, the diff without the split option, (option, value))`` for a task that declares ``Task.summary_split``:
    runs that differ in that option go to separate tables (treesent: phrase labels vs root labels)."""
    from rnnbench.plugins import known_task

    declared = getattr(known_task(task), "summary_split", None)
    if not declared:
        return "", diff, None
    key, titles, default = declared
    value = diff.get(key, default)
    return titles.get(value, f"{key} {value}"), {k: v for k, v in diff.items() if k != key}, (key, value)


def _split_value(task: str, part):
    """``(option, value)`` the rows of one split table share, or None when the task does not split."""
    values = {v for v in part["split_value"] if v is not None}
    return values.pop() if len(values) == 1 else None


def _without_empty(header, rows, names):
    """Leave out the named columns where every row says "-" (one backend has no spread)."""
    drop = [i for i, h in enumerate(header) if h in names and all(r[i] == "-" for r in rows)]
    keep = [i for i in range(len(header)) if i not in drop]
    return [header[i] for i in keep], [[r[i] for i in keep] for r in rows]


def _test(r):
    """The test metric's mean and sd, or dev's for a run without a test split."""
    if not missing(r.get("test_mean")):
        return r["test_mean"], r.get("test_sd")
    return r.get("dev_mean"), r.get("dev_sd")


def _published(group, metric: str) -> str:
    """The published figures for this table's metric only (``43.2 (Socher et al. 2013, ...)``)."""
    texts = []
    for text in group["published"]:
        for part in (text or "").split("; "):
            value, _, rest = part.partition(" ")
            if rest.startswith(f"{metric} "):
                part = f"{value} {rest[len(metric) + 1 :]}"
            elif rest.split(" ")[0] not in ("", metric) and not rest.startswith("("):
                continue  # another metric's figure: its own table shows it
            part = re.sub(r"\((.*?), [^()]*(\([^()]*\))?[^()]*\)$", r"(\1)", part)  # (Socher et al. 2013, EMNLP ...)
            if part and part not in texts:
                texts.append(part)
    return "; ".join(texts) or "-"


def ordered_by_model(groups):
    """``groupby`` items keyed ``(model, variant)``, models in the order a reader expects (cells by family, then
    trees), defaults before other variants."""
    order = ("rnn", "gru", "lstm", "recursive", "treelstm")
    return sorted(
        groups,
        key=lambda item: (
            order.index(item[0][0]) if item[0][0] in order else len(order),
            str(item[0][0]),
            item[0][1] != DEFAULT_LABEL,
            str(item[0][1]),
        ),
    )


def backend_column(backend, impl, device) -> str:
    """A backend's column heading: its name, then its impl unless the default and its device unless a CPU."""
    text = str(backend)
    if impl not in DEFAULT_IMPLS and not missing(impl):
        text += f" {impl}"
    if not missing(device) and device is not None and not str(device).startswith("cpu"):  # jax says cpu:0
        text += f" {device}"
    return text


# --- speed ---------------------------------------------------------------------------------------------------

#: Said once under the summary, for its speed table; the README's shorter form leaves the details to docs/speed.md.
SPEED_NOTE = (
    "speed: median ms per call of each backend's fastest impl (named unless the default) ± the larger "
    "side of its 95% interval, % of the matrix-multiply peak measured in the same session; × fastest, in "
    "column order, within one bench record (a row never mixes two): the median of per-round ratios with "
    "its 95% interval where the record sampled in interleaved rounds, else each median over the fastest; "
    "only rows the report trusts (docs/speed.md)"
)
SPEED_NOTE_BRIEF = (
    "speed: median ms per call of each backend's fastest impl ± its 95% interval (larger side), % of the "
    "session's matrix-multiply peak; × fastest: median of per-round ratios, within one bench record; trusted "
    "rows only (docs/speed.md)"
)


def _speed(frame):
    """One table per bench record (a session), so a ratio never mixes two sessions' machine states: a busy
    machine's later measurement sits in its own table, beside its own peak, and replaces nothing."""
    rows = frame[(frame["kind"] == "bench") & (frame["status"] == "ok")]
    if rows.empty or "median_s" not in rows.columns:
        return [], [], []
    rows = rows[rows["median_s"].notna()]
    if rows.empty:
        return [], [], []
    rows = rows.assign(
        size=[shape_label(r) for _, r in rows.iterrows()],
        column=[backend_column(b, "-", d) for b, d in zip(rows["backend"], rows["device"])],
        session=[_session(r) for _, r in rows.iterrows()],
    )
    key_columns = ["structure", "cell", "size", "pass", "dtype", "threads"]
    rows = rows.assign(_key=row_keys(rows, key_columns))
    # Each backend's fastest impl of a configuration in a record, trusted or not: when that measurement is not
    # trusted the backend's cell is empty; a slower impl that happened to be stable never stands in for it.
    rows = rows[rows.index.isin(rows.groupby(["path", "_key", "column"], dropna=False)["median_s"].idxmin())]
    trusted = rows["trusted"].astype(bool) if "trusted" in rows else pd.Series(True, index=rows.index)
    doubted, rows = rows[~trusted], rows[trusted]  # never quoted here: the speed table lists them with reasons
    brief = frame.attrs.get("brief")  # the README: the other records and the reasons are in results/report.md
    if doubted.empty:
        left_out = []
    elif brief:
        left_out = [
            f"{len(doubted)} backend figure(s) not trusted, their cells '-': `rnnbench report --table speed` says why"
        ]
    else:
        left_out = [
            f"{len(doubted)} backend figure(s) not trusted (the backend's fastest impl unstable, or from a busy or "
            "slow session) left out, their cells '-': `rnnbench report --table speed` lists them with their reasons"
        ]
    if rows.empty:
        return [], left_out, []
    incomplete = set(zip(doubted["path"], doubted["_key"]))  # the record's fastest may be among those left out
    rows = rows.assign(_complete=[(p, k) not in incomplete for p, k in zip(rows["path"], rows["_key"])])
    shown = {}  # path -> its configurations' row groups, in report order
    for _, by_host in rows.groupby("host", sort=True, dropna=False):  # a record without a host still shows
        for _, part in _speed_order(by_host.groupby("_key", sort=False)):
            for path, at in part.groupby("path", sort=False):
                shown.setdefault(path, []).append(at)
    several_hosts = rows["host"].nunique() > 1
    order = sorted(shown, key=lambda p: (-len(shown[p]), str(shown[p][0]["started_at"].iloc[0])))
    main = shown[order[0]]
    if brief and any(part["pass"].iloc[0] == "forward+backward" for part in main):
        # the pass training pays for; the forward-only rows stay in results/report.md
        forward = [part for part in main if part["pass"].iloc[0] != "forward+backward"]
        main = [part for part in main if part["pass"].iloc[0] == "forward+backward"]
    else:
        forward = []
    blocks = [_speed_block(main, several_hosts)]
    if len(order) > 1 and not brief:  # the largest record gets its table; the rest share one, a row still one record's
        blocks.append(_other_sessions_block([shown[p] for p in order[1:]]))
    more = [f"{len(forward)} forward-only row(s) of this record"] if forward else []
    more += [f"{len(order) - 1} other bench record(s), each in its own rows"] if len(order) > 1 and brief else []
    if more:
        blocks[0].notes.append(f"In results/report.md (`rnnbench report --table summary`): {'; '.join(more)}")
    notes = [SPEED_NOTE_BRIEF if brief else SPEED_NOTE] + left_out
    return blocks, notes, []


def _other_sessions_block(sessions) -> Block:
    """Every bench record but the largest in one table: a row per configuration and record, the record named."""
    at = pd.concat([part for parts in sessions for part in parts])
    columns = sorted(at["column"].unique(), key=backend_sort_key)
    # no peak-memory or first-call columns here (the speed section has them): the table stays within a page
    header = ["record", "cell", "size", "pass", "threads"] + [f"{c} ms (% peak)" for c in columns] + ["× fastest"]
    printed = []
    for parts in sessions:
        first = parts[0].iloc[0]
        peak = "" if missing(first.get("peak_gflops")) else f", peak {sig(first['peak_gflops'])}"
        for part in parts:
            r = part.iloc[0]
            printed.append(
                [f"{first['session']}{peak}", r["cell"], r["size"], r["pass"], _int(r["threads"])]
                + _speed_cells(part, columns)
            )
    suites = sorted({str(s or "custom") for s in at["suite"]})
    made = "Records: " + ", ".join(
        f"`rnnbench bench --suite {s}`" if s != "custom" else "`rnnbench bench` (custom grids)" for s in suites
    )
    return Block(
        "speed, other bench records: median ms per call, each backend's fastest impl (peak in GFLOP/s)",
        header,
        printed,
        keys=4,
        notes=[made] + _kernel_notes(at),
    )


def _speed_block(parts, several_hosts: bool) -> Block:
    at = pd.concat(parts)
    first = at.iloc[0]
    columns = sorted(at["column"].unique(), key=backend_sort_key)
    show_dtype = len(at[["dtype", "threads"]].astype(str).drop_duplicates()) > 1
    header = (
        ["cell", "size", "pass"]
        + (["dtype, threads"] if show_dtype else [])
        + [f"{c} ms (% peak)" for c in columns]
        + ["× fastest"]
    )
    printed = []
    for part in parts:
        r = part.iloc[0]
        printed.append(
            [r["cell"], r["size"], r["pass"]]
            + ([f"{r['dtype']}, {_int(r['threads'])}"] if show_dtype else [])
            + _speed_cells(part, columns)
        )
    suite = str(first.get("suite") or "custom")
    command = f"rnnbench bench --suite {suite}" if suite != "custom" else "rnnbench bench (a custom grid)"
    peak = "" if missing(first.get("peak_gflops")) else f", peak {sig(first['peak_gflops'])} GFLOP/s"
    dtypes = ", ".join(sorted(at["dtype"].dropna().astype(str).unique()))
    threads = ", ".join(sorted({_int(t) for t in at["threads"]}))
    where = f" on {first['host']}" if several_hosts else ""
    title = f"speed{where}, {suite} {when(first['started_at'])}: median ms per call, each backend's fastest impl" + (
        "" if show_dtype else f" ({dtypes}, {threads} threads{peak})"
    )
    return Block(title, header, printed, keys=3, notes=[f"Records: `{command}`"] + _kernel_notes(at))


def _session(row) -> str:
    """``cpu 2026-11-27``: a bench record by its suite and day."""
    started = when(row.get("started_at"))
    return f"{row.get('suite') or 'bench'} {started}".strip()


def when(started_at) -> str:
    """``2026-11-30 11:14``: a bench session by its start (two sessions a day are told apart)."""
    return str(started_at or "")[:16].replace("T", " ")


def _speed_cells(at, columns) -> list[str]:
    """Each column's fastest impl ``ms ±x% (% peak) impl``, then the ratios to the fastest (``/`` between
    columns, in column order); peak memory and first call are the speed section's columns."""
    best = {c: g.loc[g["median_s"].idxmin()] for c, g in at.groupby("column")}
    fastest = min(r["median_s"] for r in best.values())
    complete = bool(at["_complete"].all()) if "_complete" in at else True
    cells, ratios = [], []
    for column in columns:
        r = best.get(column)
        if r is None:
            cells.append("-")
            ratios.append("-")
            continue
        peak = "" if missing(r["peak_fraction"]) else f" ({100 * r['peak_fraction']:.0f}%)"
        impl = "" if r["impl"] in DEFAULT_IMPLS or missing(r["impl"]) else f" {r['impl']}"
        ci = r.get("ci95_s")
        cells.append(f"{median_text(r['median_s'], None if _absent(ci) else list(ci))}{peak}{impl}")
        ratios.append(ratio_text(*shown_ratio(r, fastest, complete)))
    return cells + [" / ".join(ratios)]


def _absent(value) -> bool:
    return value is None or (isinstance(value, float) and missing(value))


def _kernel_notes(rows) -> list[str]:
    """``Kernels: numpy OpenBLAS 0.3.30 Haswell ...`` from what the bench records say each backend ran, if they do."""
    kernels, warnings = {}, []
    for record in rows.drop_duplicates("path")["record"]:
        found = record.get("kernels") if isinstance(record.get("kernels"), dict) else {}
        for backend, info in found.items():
            text = kernel_text(backend, info)
            if text and kernels.setdefault(str(backend), text) != text:
                kernels[str(backend)] += f" / {text}"
        listed = record.get("warnings") if isinstance(record.get("warnings"), list) else []
        warnings += [str(w) for w in listed if str(w) not in warnings]
    notes = []
    if kernels:
        notes.append("Kernels: " + "; ".join(f"{b} {kernels[b]}" for b in sorted(kernels, key=backend_sort_key)))
    if warnings:
        notes.append(f"Kernel warnings: {len(warnings)} (`rnnbench report --verbose` lists them)")
    return notes


def kernel_warning_lines(frame) -> list[str]:
    """Every kernel warning the bench records hold, for ``--verbose`` and the HTML details."""
    lines = []
    for record in frame[frame["kind"] == "bench"].drop_duplicates("path")["record"]:
        listed = record.get("warnings") if isinstance(record.get("warnings"), list) else []
        lines += [
            f"kernel warning ({record.get('dataset')} {when(record.get('started_at'))}): {w}"
            for w in listed
            if f"{w}" not in " ".join(lines)
        ]
    return lines


def kernel_text(backend, info) -> str:
    """One backend's GEMM library in a few words: ``OpenBLAS 0.3.30 (Haswell, pthreads)``, ``oneDNN v3.7 (AVX2)``."""
    if not isinstance(info, dict):
        return ""
    parts = []
    section = info.get(str(backend)) if isinstance(info.get(str(backend)), dict) else {}
    onednn = section.get("onednn")
    if isinstance(onednn, str):
        parts.append(onednn.replace("Intel(R) MKL-DNN", "oneDNN").split(" (Git")[0].strip())
    capability = section.get("cpu_capability")
    if isinstance(capability, str):
        parts.append(f"ATen {capability}")
    if section.get("onednn_enabled") is not None:
        parts.append(f"oneDNN {'on' if section.get('onednn_enabled') else 'off'}")
    if not parts:  # NumPy, or a framework that multiplies with the BLAS threadpoolctl sees
        for lib in info.get("blas") if isinstance(info.get("blas"), list) else []:
            if isinstance(lib, dict):
                detail = ", ".join(str(lib[k]) for k in ("architecture", "threading_layer") if lib.get(k))
                parts.append(
                    f"{lib.get('internal_api') or 'BLAS'} {lib.get('version') or ''}".strip()
                    + (f" ({detail})" if detail else "")
                )
                break
    return ", ".join(parts)


def _speed_order(groups):
    order = ("rnn", "gru", "lstm", "recursive", "treelstm")

    def key(item):
        first = item[1].iloc[0]
        cell = first["cell"]
        return (
            first["structure"] == "tree",
            order.index(cell) if cell in order else len(order),
            str(cell),
            _volume(first),
            str(first["pass"]),
            str(first["dtype"]),
            str(first["threads"]),
        )

    return sorted(groups, key=key)


def _volume(row) -> float:
    """Sizes from small to large: batch × steps × input × hidden (trees: nodes)."""
    value = 1.0
    for k in ("batch", "steps", "input", "hidden") if row.get("structure") != "tree" else ("nodes", "input", "hidden"):
        v = row.get(k)
        value *= 1.0 if missing(v) else float(v)
    return value


def _int(value) -> str:
    return "-" if missing(value) else str(int(value))


# --- parity --------------------------------------------------------------------------------------------------


def _parity(frame):
    from rnnbench.report.parity import CASE_IDENTITY

    rows = frame[frame["kind"] == "check"]
    if rows.empty:
        return [], [], []
    rows = rows.sort_values("started_at", kind="stable").drop_duplicates(CASE_IDENTITY, keep="last")
    fd = rows["impl"].astype(str).str.contains("finite")
    rows = rows.assign(
        who=[f"{b} vs finite differences" if f else str(b) for b, f in zip(rows["backend"], fd)],
        passed=rows["passed"].astype(bool),
        max_rel=rows["max_rel"].astype(float),
    )
    modes = sorted(rows["check_mode"].dropna().astype(str).unique(), key=lambda m: (m != "parity", m))
    header = ["backend", "dtype", "impls"] + [f"{m}: worst rel err (passed, tolerance)" for m in modes]
    printed = []
    for (who, dtype), part in sorted(
        rows.groupby(["who", "dtype"]), key=lambda i: (backend_sort_key(i[0][0]), "finite" in i[0][0], i[0][1])
    ):
        impls = ", ".join(sorted({str(i) for i in part["impl"]} - {"finite differences"})) or "-"
        cells = []
        for mode in modes:
            at = part[part["check_mode"] == mode]
            if at.empty:
                cells.append("-")
                continue
            errors = [v for v in at["max_rel"] if not missing(v)]
            worst = f"{max(errors):.1e}" if errors else "error"
            cells.append(f"{worst} ({int(at['passed'].sum())}/{len(at)}, ≤ {float(at['tolerance'].max()):.0e})")
        printed.append([who, str(dtype), impls] + cells)
    notes = [
        "parity: worst norm-wise relative error against the float64 NumPy reference over every cell, impl "
        "and gradient (cases passed, tolerance)"
    ]
    made = ["Records: " + ", ".join(f"`rnnbench check{'' if m == 'parity' else ' --' + m}`" for m in modes)]
    return (
        [Block("parity with the NumPy reference: one row per backend and dtype", header, printed, keys=2, notes=made)],
        notes,
        [],
    )


def summary_text(frame, source: str, width: int | None = None) -> str:
    """The summary tables as terminal text (``""`` when the frame has nothing to summarise).

    For commands that end with a look at what they made (``rnnbench sweep``):
    ``summary_text(load_results(folder), str(folder), shutil.get_terminal_size().columns)``.
    """
    from rnnbench.report.render import Meta, render_text

    section = summary_section(frame)
    return "" if section is None else render_text([section], Meta(source, width=width))
