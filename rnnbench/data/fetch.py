"""Download the original files, verify them, extract safely, convert: ``data fetch`` and first use.

Each step guards against a specific way to end up with wrong data:
a checksum mismatch stops the fetch (the bad file is deleted); an archive
member with an absolute path, a ``..`` component, a link or a device is
refused before anything is written, and so is an archive that unpacks past the
dataset's size limit; the converted files are built aside and renamed into
place only when everything succeeded, so an interrupted fetch leaves no half
dataset and never touches a file it does not produce.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from rnnbench.data import convert
from rnnbench.data.paths import DATA_DIR_VARIABLE, MIRROR_VARIABLE, DataDir, mirror_url
from rnnbench.data.registry import DatasetSource, Download, get_source
from rnnbench.errors import RnnbenchError

CHUNK = 1 << 20
DOWNLOADS = ".downloads"
_WAYS_OUT = (
    f"to get it another way, set {MIRROR_VARIABLE} to a mirror of the original files, or put the "
    f"dataset in --data-dir or {DATA_DIR_VARIABLE} (`rnnbench data list` shows what is there)"
)


def fetch(
    source: DatasetSource, data_dir: DataDir, *, force: bool = False, progress: bool | None = None, log=None
) -> Path:
    """Make ``source`` present in ``data_dir`` and return its folder.

    Everything is downloaded, verified, extracted and converted in a work folder
    first; only when all of it succeeded are the produced files moved into the
    dataset's folder, one atomic rename each. Files of that folder that the
    fetch does not produce (a user's notes, an extra split) are left alone,
    with ``force`` too.
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    folder = data_dir.path / source.name
    if all((folder / name).is_file() for name in source.required) and not force:
        log(f"{source.name} is already present in {folder} (use --force to fetch it again)")
        return folder
    if folder.exists() and not folder.is_dir():
        raise RnnbenchError(f"cannot fetch {source.name}: {folder} exists and is not a folder")
    try:
        (data_dir.path / DOWNLOADS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnnbenchError(f"cannot create {data_dir.path}: {exc.strerror or exc}") from None
    needed = {name: _needed_folder(name, data_dir, progress, log) for name in source.needs}
    log(announcement(source, folder))
    files = [
        download_verified(d, data_dir.path / DOWNLOADS, progress, log, dataset=source.name) for d in source.downloads
    ]
    work = Path(tempfile.mkdtemp(dir=data_dir.path, prefix=f".fetch-{source.name}-"))
    try:
        extracted = work / "extracted"
        extracted.mkdir()
        budget = UnpackBudget(source.max_unpacked_bytes, source.name)
        for download, path in zip(source.downloads, files):
            unpack(download, path, extracted, budget)
        built = work / source.name
        built.mkdir()
        getattr(convert, source.converter)(extracted, built, **needed)
        missing = [name for name in source.required if not (built / name).is_file()]
        if missing:
            raise RnnbenchError(f"converting {source.name} produced no {', '.join(missing)}")
        _move_files_into(built, folder)
    except OSError as exc:
        raise RnnbenchError(f"cannot fetch {source.name} into {folder}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"{source.name}: ready in {folder}")
    return folder


def announcement(source: DatasetSource, folder: Path) -> str:
    """The one line said before anything is downloaded: what, how much, from where, to where."""
    first = source.downloads[0]
    url = mirror_url(first.url, source.name, first.filename)
    where = url if url == first.url else f"{url} (mirror of {first.url})"
    more = f" and {len(source.downloads) - 1} more file(s) from the same place" if len(source.downloads) > 1 else ""
    size = source.download_bytes
    about = f", {_human(size)}" if size else ""
    return f"downloading {source.name} ({source.title}{about}) from {where}{more} into {folder}"


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _needed_folder(name: str, data_dir: DataDir, progress, log) -> Path:
    """A dataset another one is derived from: the local copy, fetched first when missing."""
    return fetch(get_source(name), data_dir, progress=progress, log=log)


def _move_files_into(built: Path, folder: Path) -> None:
    """Rename every file of ``built`` into ``folder`` (same file system), replacing only those names."""
    folder.mkdir(exist_ok=True)
    for path in sorted(built.rglob("*")):
        if path.is_dir():
            continue
        target = folder / path.relative_to(built)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


def download_verified(download: Download, folder: Path, progress=None, log=print, dataset: str = "") -> Path:
    """The verified file in ``folder``: reused if a good copy is there, downloaded otherwise.

    The address is the original's, or its copy on ``RNNBENCH_DATA_MIRROR``;
    the checksum is the original's either way.
    """
    target = (folder / dataset if dataset else folder) / download.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and _matches(target, download.checksum):
        log(f"using the verified copy {target}")
        return target
    url = mirror_url(download.url, dataset, download.filename) if dataset else download.url
    download_file(url, target, progress, what=dataset)
    digest = checksum_of(target, "sha256")
    if download.checksum is None:
        log(f"{download.filename}: no published checksum to verify against; sha256 {digest}")
        return target
    if not _matches(target, download.checksum):
        algorithm, expected = _split_checksum(download.checksum)
        got = checksum_of(target, algorithm)
        target.unlink()
        raise RnnbenchError(
            f"checksum mismatch for {url}: expected {algorithm} {expected}, got {got}; "
            "the file was deleted (a damaged download, or the server changed the file)"
        )
    log(f"{download.filename}: {download.checksum.split(':')[0]} verified ({download.checksum_source})")
    return target


def download_file(url: str, target: Path, progress=None, timeout: float = 60.0, what: str = "") -> None:
    """Stream ``url`` into ``target`` (via a ``.part`` file) with a progress bar on a terminal."""
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = response.headers.get("Content-Length")
            bar = _bar(int(total) if total and total.isdigit() else None, target.name, progress)
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", None) or exc
            reason = getattr(reason, "strerror", None) or reason
        name = f"{what} from " if what else ""
        raise RnnbenchError(f"cannot download {name}{url}: {reason}; {_WAYS_OUT}") from None
    os.replace(partial, target)


def _bar(total, name, progress):
    if progress is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(
        total=total,
        desc=name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=None if progress is None else False,
    )


def _split_checksum(checksum: str) -> tuple[str, str]:
    algorithm, _, expected = checksum.partition(":")
    if algorithm not in ("sha256", "md5") or not expected:
        raise RnnbenchError(f"bad checksum spec {checksum!r}; expected sha256:<hex> or md5:<hex>")
    return algorithm, expected.lower()


def checksum_of(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(path: Path, checksum: str | None) -> bool:
    if checksum is None:
        return False  # nothing to trust a leftover copy by: download again
    algorithm, expected = _split_checksum(checksum)
    return checksum_of(path, algorithm) == expected


# -- safe extraction ------------------------------------------------------------------------------


class UnpackBudget:
    """The bytes an extraction may still write: checked against declared sizes first, then while writing.

    Declared sizes can lie (a zip's header is the archive author's word), so
    every chunk written counts too; past the limit the fetch stops with a
    one-line error and the work folder, with all it held, is removed.
    """

    def __init__(self, limit: int, dataset: str):
        self.limit, self.left, self.dataset = limit, limit, dataset

    def declare(self, archive: Path, sizes) -> None:
        if sum(sizes) > self.left:
            self._refuse(archive)

    def copy(self, archive: Path, source, out) -> None:
        while chunk := source.read(CHUNK):
            self.left -= len(chunk)
            if self.left < 0:
                self._refuse(archive)
            out.write(chunk)

    def _refuse(self, archive: Path):
        raise RnnbenchError(
            f"refusing {archive.name}: it unpacks to more than {_human(self.limit)}, the limit "
            f"for {self.dataset} (a damaged archive or a decompression bomb); nothing was kept"
        )


def unpack(download: Download, path: Path, into: Path, budget: UnpackBudget | None = None) -> None:
    """Extract an archive into ``into`` (refusing unsafe members), or copy a plain file there."""
    budget = budget or UnpackBudget(2 << 30, "this dataset")
    kind = download.archive_kind
    if kind == "tar.gz":
        extract_tar(path, into, budget)
    elif kind == "zip":
        extract_zip(path, into, budget)
    else:
        budget.declare(path, [path.stat().st_size])
        with open(path, "rb") as source, open(into / download.filename, "wb") as out:
            budget.copy(path, source, out)


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    """The member's relative path, or a one-line error for an absolute path or a ``..`` component."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or (posix.parts and ":" in posix.parts[0]):
        raise RnnbenchError(f"refusing {archive.name}: member {name!r} has an absolute path")
    if ".." in posix.parts:
        raise RnnbenchError(f"refusing {archive.name}: member {name!r} points outside the archive folder")
    return posix


def extract_tar(archive: Path, into: Path, budget: UnpackBudget) -> None:
    """Regular files and folders only; every member is checked before the first is written."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _safe_name(archive, member.name)
                if not (member.isfile() or member.isdir()):
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    raise RnnbenchError(f"refusing {archive.name}: member {member.name!r} is a {kind}")
            budget.declare(archive, [member.size for member in members if member.isfile()])
            for member in members:
                target = into.joinpath(*_safe_name(archive, member.name).parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(target, "wb") as out:
                    budget.copy(archive, source, out)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise RnnbenchError(f"cannot read archive {archive.name}: {exc}") from None


def extract_zip(archive: Path, into: Path, budget: UnpackBudget) -> None:
    """Like :func:`extract_tar`, for zip files (symbolic links stored in the mode bits are refused)."""
    try:
        with zipfile.ZipFile(archive) as package:
            infos = package.infolist()
            for info in infos:
                _safe_name(archive, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise RnnbenchError(f"refusing {archive.name}: member {info.filename!r} is a link")
            budget.declare(archive, [info.file_size for info in infos if not info.is_dir()])
            for info in infos:
                target = into.joinpath(*_safe_name(archive, info.filename).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with package.open(info) as source, open(target, "wb") as out:
                    budget.copy(archive, source, out)
    except (zipfile.BadZipFile, OSError, zlib.error) as exc:
        raise RnnbenchError(f"cannot read archive {archive.name}: {exc}") from None
