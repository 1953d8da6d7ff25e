"""``rnnbench data fetch``: download the original files, verify them, extract safely, convert.

Each step guards against a specific way to end up with wrong data:
a checksum mismatch stops the fetch (the bad file is deleted); an archive
member with an absolute path, a ``..`` component, a link or a device is
refused before anything is written; the converted folder is built aside and
moved into place in one rename, so an interrupted fetch leaves no half dataset.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from rnnbench.data import convert
from rnnbench.data.paths import DataDir
from rnnbench.data.registry import DatasetSource, Download
from rnnbench.errors import RnnbenchError

CHUNK = 1 << 20
DOWNLOADS = ".downloads"


def fetch(source: DatasetSource, data_dir: DataDir, *, force: bool = False, progress: bool | None = None,
          log=None) -> Path:
    """Make ``source`` present in ``data_dir`` and return its folder."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    folder = data_dir.path / source.name
    if all((folder / name).is_file() for name in source.required) and not force:
        log(f"{source.name} is already present in {folder} (use --force to fetch it again)")
        return folder
    try:
        data_dir.path.mkdir(parents=True, exist_ok=True)
        (data_dir.path / DOWNLOADS).mkdir(exist_ok=True)
    except OSError as exc:
        raise RnnbenchError(f"cannot create {data_dir.path}: {exc.strerror or exc}") from None
    files = [download_verified(d, data_dir.path / DOWNLOADS, progress, log) for d in source.downloads]
    work = Path(tempfile.mkdtemp(dir=data_dir.path, prefix=f".fetch-{source.name}-"))
    try:
        extracted = work / "extracted"
        extracted.mkdir()
        for download, path in zip(source.downloads, files):
            unpack(download, path, extracted)
        built = work / source.name
        built.mkdir()
        getattr(convert, source.converter)(extracted, built)
        missing = [name for name in source.required if not (built / name).is_file()]
        if missing:
            raise RnnbenchError(f"converting {source.name} produced no {', '.join(missing)}")
        if folder.exists():
            folder.rename(work / "previous")
        built.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"{source.name}: ready in {folder}")
    return folder


def download_verified(download: Download, folder: Path, progress=None, log=print) -> Path:
    """The verified file in ``folder``: reused if a good copy is there, downloaded otherwise."""
    target = folder / download.filename
    if target.is_file() and _matches(target, download.checksum):
        log(f"using the verified copy {target}")
        return target
    download_file(download.url, target, progress)
    digest = checksum_of(target, "sha256")
    if download.checksum is None:
        log(f"{download.filename}: no published checksum to verify against; sha256 {digest}")
        return target
    if not _matches(target, download.checksum):
        algorithm, expected = _split_checksum(download.checksum)
        got = checksum_of(target, algorithm)
        target.unlink()
        raise RnnbenchError(f"checksum mismatch for {download.url}: expected {algorithm} {expected}, got {got}; "
                            "the file was deleted (a damaged download, or the server changed the file)")
    log(f"{download.filename}: {download.checksum.split(':')[0]} verified ({download.checksum_source})")
    return target


def download_file(url: str, target: Path, progress=None, timeout: float = 60.0) -> None:
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
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", None) or exc
        raise RnnbenchError(f"cannot download {url}: {reason}") from None
    os.replace(partial, target)


def _bar(total, name, progress):
    if progress is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                disable=None if progress is None else False)


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


def unpack(download: Download, path: Path, into: Path) -> None:
    """Extract an archive into ``into`` (refusing unsafe members), or copy a plain file there."""
    kind = download.archive_kind
    if kind == "tar.gz":
        extract_tar(path, into)
    elif kind == "zip":
        extract_zip(path, into)
    else:
        shutil.copyfile(path, into / download.filename)


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    """The member's relative path, or a one-line error for an absolute path or a ``..`` component."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or (posix.parts and ":" in posix.parts[0]):
        raise RnnbenchError(f"refusing {archive.name}: member {name!r} has an absolute path")
    if ".." in posix.parts:
        raise RnnbenchError(f"refusing {archive.name}: member {name!r} points outside the archive folder")
    return posix


def extract_tar(archive: Path, into: Path) -> None:
    """Regular files and folders only; every member is checked before the first is written."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _safe_name(archive, member.name)
                if not (member.isfile() or member.isdir()):
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    raise RnnbenchError(f"refusing {archive.name}: member {member.name!r} is a {kind}")
            for member in members:
                target = into.joinpath(*_safe_name(archive, member.name).parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RnnbenchError(f"cannot read archive {archive.name}: {exc}") from None


def extract_zip(archive: Path, into: Path) -> None:
    """Like :func:`extract_tar`, for zip files (symbolic links stored in the mode bits are refused)."""
    try:
        with zipfile.ZipFile(archive) as package:
            infos = package.infolist()
            for info in infos:
                _safe_name(archive, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise RnnbenchError(f"refusing {archive.name}: member {info.filename!r} is a link")
            for info in infos:
                target = into.joinpath(*_safe_name(archive, info.filename).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with package.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RnnbenchError(f"cannot read archive {archive.name}: {exc}") from None
