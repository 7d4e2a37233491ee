"""The run directory: files written safely, and a manifest that tells the truth.

Every file is written to a temporary name in the same folder and renamed into
place, so a reader sees either the old file or the new one, never half of
one. ``manifest.json`` carries the run's status (``running``, ``complete``,
``failed``, ``interrupted``); only a finished run is ever marked complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "OutputError",
    "RunDirectoryError",
    "atomic_path",
    "atomic_write",
    "atomic_write_text",
    "check_output_location",
    "checksums",
    "file_sha256",
    "now",
    "output_errors",
    "package_versions",
    "read_manifest",
    "write_manifest",
]

MANIFEST = "manifest.json"
STATUSES = ("running", "complete", "failed", "interrupted")


class RunDirectoryError(Exception):
    """A run directory cannot be used as asked (exists, incomplete, mismatched)."""


class OutputError(Exception):
    """The output location cannot be written (not a folder, read-only, full)."""


def check_output_location(target: Path) -> None:
    """Create the parent of run directory ``target`` if needed; an
    :class:`OutputError` if it cannot hold the run."""
    target = Path(target)
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(
            f"{parent}: not a directory (the output folder, from --out or output.dir)"
        )
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory; cannot write the run there")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{parent}: cannot create the output folder ({_reason(error)})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: the output folder is not writable")


@contextmanager
def output_errors(target: Path) -> Iterator[None]:
    """An OSError while writing the run at ``target`` (disk full, permissions)
    as an :class:`OutputError` of one line."""
    try:
        yield
    except OSError as error:
        where = error.filename or target
        raise OutputError(f"{where}: cannot write the run ({_reason(error)})") from None


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def finish_manifest(run_dir: Path, manifest: dict, status: str, seconds: float) -> None:
    """Mark ``manifest`` ``status`` (complete, interrupted, failed) after
    ``seconds`` more of work, with the time it finished or stopped, and write it."""
    if status == "complete":
        manifest.pop("stopped_in", None)
        manifest.pop("error", None)
    manifest["status"] = status
    manifest["finished" if status == "complete" else "stopped"] = now()
    manifest["elapsed_seconds"] = round(manifest.get("elapsed_seconds", 0.0) + seconds, 3)
    write_manifest(run_dir, manifest)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    Readers see the old file or the new one, never half of one; on error the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(run_dir: Path, paths) -> dict[str, str]:
    """``{path relative to run_dir: sha256}`` of the files among ``paths``."""
    return {
        str(Path(path).relative_to(run_dir)): file_sha256(path)
        for path in paths
        if Path(path).is_file()
    }


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of ``run_dir``, or None if there is none."""
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{path}: manifest is not valid JSON ({error})") from None


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    if manifest.get("status") not in STATUSES:
        raise ValueError(f"bad status {manifest.get('status')!r}")
    atomic_write_text(
        Path(run_dir) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    )


def write_experiment_files(run_dir: Path, source_text: str, resolved_yaml: str) -> dict[str, str]:
    """A new run's ``experiment.yaml`` (the file as given) and ``resolved.yaml``,
    in a folder created if need be; their checksums."""
    run_dir.mkdir(parents=True, exist_ok=True)
    files = [
        atomic_write_text(run_dir / "experiment.yaml", source_text),
        atomic_write_text(run_dir / "resolved.yaml", resolved_yaml),
    ]
    return checksums(run_dir, files)


def mark_phase(run_dir: Path, manifest: dict, name: str, state: str, written=()) -> None:
    """Record phase ``name`` as ``state`` (done, failed, ...) with the checksums
    of the files it ``written``, and write the manifest."""
    manifest["phases"][name] = state
    manifest.setdefault("checksums", {}).update(checksums(run_dir, written))
    write_manifest(run_dir, manifest)


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shape the numbers."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    packages = "stochlstm numpy pandas seaborn matplotlib pydantic pyyaml pyarrow"
    for package in packages.split():
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def replace_directory(new: Path, target: Path) -> None:
    """Put the finished run ``new`` at ``target``, replacing what is there.

    The old directory is moved aside first and removed only once ``new`` is in
    place, so at every moment one complete run is on disk.
    """
    new, target = Path(new), Path(target)
    if not target.exists():
        os.replace(new, target)
        return
    aside = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)
