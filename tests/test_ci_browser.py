"""`make test` sets up its browser or says in one line how: ``.ci/browser``, run before any test starts.

The script runs here against stub commands on a PATH of their own (no apt-get is ever run for real):
where apt-get cannot run without asking it must stop at once with the one command to run; where it can
(root, passwordless sudo) it installs chromium and chromium-driver; with both present it does nothing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / ".ci" / "browser"
INSTALL = "sudo apt-get install -y chromium chromium-driver"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path):
    """A PATH with nothing but stubs: a user (uid 1000), and an apt-get that logs and "installs" the two tools."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _stub(folder, "id", "echo 1000")
    log = tmp_path / "apt.log"
    _stub(
        folder,
        "apt-get",
        f'echo "$@" >> {log}\n'
        f'case "$*" in *install*) for t in chromium chromedriver; do '
        f'printf "#!/bin/sh\\n" > {folder}/$t; /bin/chmod +x {folder}/$t; done;; esac',
    )
    return folder


def _run(bin_dir: Path):
    return subprocess.run(
        ["/bin/sh", str(SCRIPT)],
        env={"PATH": str(bin_dir), "HOME": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=20,
    )


def _apt_calls(bin_dir: Path) -> list[str]:
    log = bin_dir.parent / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_without_root_or_passwordless_sudo_it_stops_at_once_with_the_command(bin_dir):
    _stub(bin_dir, "sudo", "exit 1  # asks for a password")
    result = _run(bin_dir)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.rstrip().endswith(f"run: {INSTALL}"), result.stderr
    assert _apt_calls(bin_dir) == []  # nothing was attempted


def test_without_sudo_at_all_the_same_line(bin_dir):
    result = _run(bin_dir)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and INSTALL in result.stderr
    assert _apt_calls(bin_dir) == []


def test_without_apt_get_it_names_the_packages_in_one_line(bin_dir):
    (bin_dir / "apt-get").unlink()
    result = _run(bin_dir)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "chromium chromium-driver" in result.stderr and "package manager" in result.stderr


@pytest.mark.parametrize("who", ["root", "passwordless sudo"])
def test_where_apt_get_can_run_it_installs_both(bin_dir, who):
    if who == "root":
        _stub(bin_dir, "id", "echo 0")
    else:
        _stub(bin_dir, "sudo", '[ "$1" = -n ] && shift; "$@"')
    result = _run(bin_dir)
    assert result.returncode == 0, result.stderr
    assert _apt_calls(bin_dir) == ["update -qq", "install -y -qq chromium chromium-driver"]
    assert (bin_dir / "chromium").exists() and (bin_dir / "chromedriver").exists()


def test_with_both_present_it_does_nothing(bin_dir):
    for name in ("chromium", "chromedriver"):
        _stub(bin_dir, name, "")
    result = _run(bin_dir)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert _apt_calls(bin_dir) == []


def test_make_test_runs_it_before_any_test():
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M).group(1)
    lines = [line.strip() for line in recipe.splitlines()]
    assert ".ci/browser" in lines[0] and "pytest" in lines[-1], recipe
    assert SCRIPT.stat().st_mode & 0o111  # executable, as the Makefile and .ci/run call it
