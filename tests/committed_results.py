"""The committed reference records: ``results/`` as git tracks it, never a user's own later runs.

The README's results, the report tests and the browser test compare against the records the repository
ships. A run made into ``results/`` (``rnnbench run`` writes there by default) is the user's, not the
reference: it must neither break those tests nor slip into them unnoticed. So they read a folder holding
links to the tracked files only (``git ls-files``: committed or staged), and each record left out is named
in a warning that says how to make it part of the reference. Outside a git checkout every file counts.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class UntrackedRecordsWarning(UserWarning):
    """results/ holds files git does not track; the reference checks left them out."""


def tracked_files(repo: Path, folder: str = "results") -> list[str] | None:
    """Paths under ``folder`` that git tracks in ``repo`` (relative to it); None outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z", "--", folder], capture_output=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [name for name in listed.decode("utf-8", "surrogateescape").split("\0") if name]


def committed_results(into: Path, repo: Path = REPO, folder: str = "results") -> Path:
    """``into/<folder>``: links to the files of ``repo/<folder>`` that git tracks (all of them outside a
    checkout), for a check against the reference alone; warns naming every file left out."""
    source = repo / folder
    present = sorted(str(p.relative_to(repo)) for p in source.rglob("*") if p.is_file())
    tracked = tracked_files(repo, folder)
    keep = present if tracked is None else sorted(set(present) & set(tracked))
    target = into / folder
    target.mkdir(parents=True, exist_ok=True)
    for name in keep:
        link = into / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(repo / name)
    strays = [name for name in present if name not in set(keep)]
    if strays:
        shown = ", ".join(strays[:3]) + (f" and {len(strays) - 3} more" if len(strays) > 3 else "")
        warnings.warn(
            UntrackedRecordsWarning(
                f"{len(strays)} file(s) in {folder}/ that git does not track were left out of the reference checks "
                f"({shown}); to make them part of the reference: git add them, then make readme"
            ),
            stacklevel=2,
        )
    return target
