"""Where ``rnnbench compare`` reads each side from: a record file, a results directory, or the records
committed at a git revision (``--rev``), each loaded into the report's frame.

A revision's records are copied out of git (``git ls-tree`` and ``git cat-file``) into a scratch folder,
never checked out, so the working tree is untouched. Every mistake (a path that does not exist, a bad
revision, no git) is one :class:`RnnbenchError` line; every file skipped is one warning line on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from rnnbench.errors import RnnbenchError


def sides(paths: list[str], rev: str | None) -> tuple[tuple[str, str], list[str]]:
    """``((path_a, path_b), [label_a, label_b])`` from the command line's paths and ``--rev``."""
    if rev is None and len(paths) != 2:
        raise RnnbenchError(f"compare takes two paths, A and B (got {len(paths)}); or --rev REV and one path")
    if rev is not None and len(paths) > 2:
        raise RnnbenchError(
            f"with --rev, compare takes one path (A at {rev} against it) or two (A's path at "
            f"{rev}, then B); got {len(paths)}"
        )
    path_a, path_b = (paths[0], paths[-1])
    for path in ([path_a] if rev is None else []) + [path_b]:
        if not os.path.exists(path):
            raise RnnbenchError(f"{path} does not exist (give a record file or a results directory)")
    return (path_a, path_b), [path_a if rev is None else f"{path_a}@{rev}", path_b]


def load_side(path: str, rev: str | None, label: str, scratch: str):
    """The frame of every record at ``path`` (at ``rev`` when given), and notes on rows left out."""
    if rev is not None:
        folder = _from_git(path, rev, Path(scratch) / "rev")
    elif os.path.isdir(path):
        folder = Path(path)
    else:
        folder = Path(scratch) / f"file-{len(os.listdir(scratch))}"
        folder.mkdir()
        name = Path(path).name
        shutil.copyfile(path, folder / (name if name.endswith(".json") else f"{name}.json"))
    return _load(folder, label)


def _load(folder: Path, label: str):
    from rnnbench.records import RecordWarning
    from rnnbench.report.frame import load_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordWarning)
        frame = load_results(folder)
    for warning in caught:
        if issubclass(warning.category, RecordWarning):
            print(f"warning: {label}: {warning.message}", file=sys.stderr)
    if frame.empty:
        raise RnnbenchError(f"{label} holds no record rnnbench can read (bench, run or check)")
    hidden = frame[(frame["kind"] != "check") & (frame["status"] != "ok")]
    notes = [f"left out {len(hidden)} row(s) whose status is not ok"] if len(hidden) else []
    return frame.drop(hidden.index), notes


def _git(top, *args, text=True) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=text, check=False)
    except FileNotFoundError:
        raise RnnbenchError("--rev needs git, and git is not installed") from None


def _from_git(path: str, rev: str, folder: Path) -> Path:
    """Copy the records at ``path`` in commit ``rev`` (a file, or a folder's top-level .json files) to ``folder``."""
    here = Path.cwd()
    top = _git(here, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise RnnbenchError(f"--rev {rev}: {here} is not inside a git repository")
    top = Path(top.stdout.strip())
    relative = Path(os.path.relpath(os.path.realpath(path), os.path.realpath(top)))
    if relative.parts[:1] == ("..",):
        raise RnnbenchError(f"--rev {rev}: {path} is outside the git repository at {top}")
    commit = _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if commit.returncode != 0 or not commit.stdout.strip():
        raise RnnbenchError(f"--rev {rev}: not a commit of the git repository at {top}")
    commit = commit.stdout.strip()
    wanted = relative.as_posix()
    listing = _git(top, "ls-tree", "-r", "-z", commit, "--", "." if wanted == "." else wanted)
    if listing.returncode != 0:
        raise RnnbenchError(f"--rev {rev}: git ls-tree failed: {listing.stderr.strip() or listing.returncode}")
    blobs = []
    for item in filter(None, listing.stdout.split("\0")):
        meta, name = item.split("\t", 1)
        kind, sha = meta.split()[1:3]
        in_folder = os.path.dirname(name) == ("" if wanted == "." else wanted)
        if kind == "blob" and (name == wanted or (in_folder and name.endswith(".json"))):
            blobs.append((name, sha))
    if not blobs:
        raise RnnbenchError(f"--rev {rev}: no record at {wanted} in commit {commit[:12]}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, sha in blobs:
        content = _git(top, "cat-file", "blob", sha, text=False)
        base = os.path.basename(name)
        (folder / (base if base.endswith(".json") else f"{base}.json")).write_bytes(content.stdout)
    return folder
