"""Datasets served on 127.0.0.1, for the tests that download (not a test module itself).

``server``: a folder served over HTTP for the test's length; ``mirror``: every registered dataset's
original files on that server, the registry's checksums made those of these small archives, and
``RNNBENCH_DATA_MIRROR`` pointing at it. tests/conftest.py offers both fixtures to every test module.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from rnnbench.data import registry
from rnnbench.data.paths import MIRROR_VARIABLE, OFFLINE_VARIABLE

from text_fixtures import original_files


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """``(base url, served folder)``; the server thread stops with the test."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def md5_checksum(path: Path) -> str:
    """A registry checksum (``md5:<hex>``) of ``path``."""
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror(server, monkeypatch):
    """A mirror on 127.0.0.1 holding every dataset's original files (``<base>/<dataset>/<file>``).

    The registry keeps the original addresses; only the checksums become those
    of the small archives served here, as a real mirror keeps the originals'.
    Returns ``(base url, {dataset: {file name: served path}})``.
    """
    base, served = server
    files = original_files(served / "originals")
    layout = {}
    for name, source in registry.DATASETS.items():
        (served / name).mkdir()
        layout[name] = {}
        downloads = []
        for d in source.downloads:
            target = served / name / d.filename
            target.write_bytes(files[d.filename].read_bytes())
            layout[name][d.filename] = target
            downloads.append(replace(d, checksum=md5_checksum(target), size=target.stat().st_size))
        monkeypatch.setitem(registry.DATASETS, name, replace(source, downloads=tuple(downloads)))
    monkeypatch.setenv(MIRROR_VARIABLE, base)
    monkeypatch.delenv(OFFLINE_VARIABLE, raising=False)
    return base, layout
