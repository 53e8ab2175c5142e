"""``tune.Checkpoint``: a directory of trial state that tune persists, copies and restores.

A checkpoint is a directory. ``Checkpoint.from_directory(path)`` wraps one the trainable wrote;
``Checkpoint.from_dict(d)`` holds a small state dict in memory and writes it as a pickle
(``dict_checkpoint.pkl``) only when a directory is needed, so reporting a dict checkpoint costs
one file write.

``path`` may be an fsspec URL (``s3://bucket/exp/trial/checkpoint_000003``): ``filesystem`` is
then the fsspec filesystem holding it (``None`` for local paths), ``as_directory()`` and
``to_directory()`` download the files, and ``to_dict()`` / the metadata read and write them in
place. fsspec is imported only for URLs (``pip install 'tune-core[fsspec]'``).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from tune.errors import TuneValueError, invalid_type

DICT_CHECKPOINT_FILE = "dict_checkpoint.pkl"
METADATA_FILE = ".metadata.json"


def _dump_pickle(data: Any, path: str) -> None:
    try:
        blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - lambdas and local classes need cloudpickle
        import cloudpickle

        blob = cloudpickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    with open(path, "wb") as f:
        f.write(blob)


def copy_directory(src: str, dst: str) -> None:
    """Copy the contents of ``src`` into ``dst`` (created if missing); no-op when the same."""
    if os.path.realpath(src) == os.path.realpath(dst):
        return
    if not os.path.isdir(src):
        raise TuneValueError(f"Invalid checkpoint path={src!r}: it is not a directory.")
    shutil.copytree(src, dst, dirs_exist_ok=True)


class Checkpoint:
    """A trial checkpoint: a directory (``path``), or a small dict kept in memory.

    Example::

        with tempfile.TemporaryDirectory() as d:
            torch.save(model.state_dict(), os.path.join(d, "model.pt"))
            tune.report({"loss": loss}, checkpoint=tune.Checkpoint.from_directory(d))

    Tune copies a reported checkpoint into ``<trial dir>/checkpoint_<iteration>`` before
    ``tune.report`` returns, so the source directory may be deleted afterwards.
    """

    def __init__(self, path: str | os.PathLike, filesystem: Any = None) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise invalid_type("path", path, "expected a directory path (str or os.PathLike)")
        self._path: str | None = os.fspath(path)
        self._data: dict | None = None
        if filesystem is None and "://" in self._path:
            from tune.storage import url_to_fs

            filesystem = url_to_fs(self._path)[0]
        if filesystem is not None and _is_local_fs(filesystem) and "://" not in self._path:
            filesystem = None  # a plain path on the local file system is just a local path
        self.filesystem = filesystem

    # -- where the files are ------------------------------------------------------------------
    @property
    def _remote(self) -> bool:
        return self._path is not None and self.filesystem is not None

    @property
    def _fs_path(self) -> str:
        """The path inside ``filesystem`` (the URL without its protocol)."""
        assert self._path is not None and self.filesystem is not None
        return self.filesystem._strip_protocol(self._path).rstrip("/")

    def _fs_join(self, name: str) -> str:
        return f"{self._fs_path}/{name}"

    def _download(self, target: str) -> None:
        from tune.storage import download_dir

        try:
            found = download_dir(self.filesystem, self._fs_path, target)
        except Exception as exc:  # noqa: BLE001 - network and permission errors alike
            raise TuneValueError(
                f"Downloading checkpoint {self._path!r} into {target!r} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not found and not self.filesystem.isdir(self._fs_path):
            raise TuneValueError(
                f"Invalid checkpoint path={self._path!r}: nothing is stored there (was it "
                "deleted, or is the URL wrong?)."
            )

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> Checkpoint:
        """A checkpoint made of the files in directory ``path`` (a local path or a URL)."""
        return cls(path)

    @classmethod
    def from_dict(cls, data: dict) -> Checkpoint:
        """A checkpoint holding ``data`` (a picklable dict); read it back with ``to_dict()``."""
        if not isinstance(data, dict):
            raise invalid_type("data", data, "expected a dict")
        ckpt = cls.__new__(cls)
        ckpt._path = None
        ckpt._data = data
        ckpt.filesystem = None
        return ckpt

    # -- access -------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The checkpoint's directory (a dict checkpoint is written to a temporary one)."""
        if self._path is None:
            target = tempfile.mkdtemp(prefix="tune_checkpoint_")
            self.write_to(target)
            self._path = target
        return self._path

    def to_dict(self) -> dict:
        """The dict of a checkpoint made with ``from_dict`` (or saved as a dict by a Trainable)."""
        if self._data is not None:
            return self._data
        if self._remote:
            try:
                with self.filesystem.open(self._fs_join(DICT_CHECKPOINT_FILE), "rb") as f:
                    return pickle.load(f)
            except FileNotFoundError:
                pass
            raise TuneValueError(
                f"Checkpoint at {self._path!r} holds no dict ({DICT_CHECKPOINT_FILE} is missing): "
                "it was created from a directory. Read its files with as_directory() or "
                "to_directory()."
            )
        file = os.path.join(self.path, DICT_CHECKPOINT_FILE)
        if not os.path.exists(file):
            raise TuneValueError(
                f"Checkpoint at {self.path!r} holds no dict ({DICT_CHECKPOINT_FILE} is missing): "
                "it was created from a directory. Read its files with as_directory() or "
                "to_directory()."
            )
        with open(file, "rb") as f:
            return pickle.load(f)

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """Context manager giving a local directory with the checkpoint's files.

        A local checkpoint directory is given as it is (no copy); a URL checkpoint is
        downloaded into a temporary directory that is deleted afterwards.
        """
        if self._path is not None and not self._remote:
            yield self._path
            return
        target = tempfile.mkdtemp(prefix="tune_checkpoint_")
        try:
            self.write_to(target)
            yield target
        finally:
            shutil.rmtree(target, ignore_errors=True)

    def to_directory(self, path: str | os.PathLike | None = None) -> str:
        """Copy the checkpoint's files into ``path`` (a new temporary directory if None)."""
        target = tempfile.mkdtemp(prefix="tune_checkpoint_") if path is None else os.fspath(path)
        self.write_to(target)
        return target

    def write_to(self, target: str) -> None:
        """Put the checkpoint's files into local directory ``target`` (created if needed)."""
        if self._data is not None and self._path is None:
            os.makedirs(target, exist_ok=True)
            _dump_pickle(self._data, os.path.join(target, DICT_CHECKPOINT_FILE))
            return
        if self._remote:
            self._download(target)
            return
        copy_directory(os.path.abspath(self.path), target)

    # -- metadata (a small JSON dict stored next to the files) --------------------------------
    def get_metadata(self) -> dict:
        if self._remote:
            try:
                with self.filesystem.open(self._fs_join(METADATA_FILE), "r") as f:
                    return json.load(f)
            except FileNotFoundError:
                return {}
        file = os.path.join(self.path, METADATA_FILE)
        if not os.path.exists(file):
            return {}
        with open(file) as f:
            return json.load(f)

    def set_metadata(self, metadata: dict) -> None:
        if not isinstance(metadata, dict):
            raise invalid_type("metadata", metadata, "expected a JSON-serialisable dict")
        if self._remote:
            self.filesystem.pipe_file(self._fs_join(METADATA_FILE), json.dumps(metadata).encode())
            return
        with open(os.path.join(self.path, METADATA_FILE), "w") as f:
            json.dump(metadata, f)

    def update_metadata(self, metadata: dict) -> None:
        merged = self.get_metadata()
        merged.update(metadata)
        self.set_metadata(merged)

    # -- identity -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        if self._path is None:
            return f"Checkpoint(data keys={sorted(self._data or {})!r})"
        if self._remote:
            return f"Checkpoint(filesystem={_protocol_name(self.filesystem)}, path={self._path})"
        return f"Checkpoint(filesystem=local, path={self._path})"

    def _identity(self) -> str:
        assert self._path is not None
        if self._remote:
            return f"{_protocol_name(self.filesystem)}://{self._fs_path}"
        return os.path.abspath(self._path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checkpoint):
            return NotImplemented
        if self._path is None or other._path is None:
            return self is other
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity()) if self._path is not None else id(self)


def _protocol_name(fs: Any) -> str:
    protocol = getattr(fs, "protocol", "?")
    return protocol if isinstance(protocol, str) else protocol[0]


def _is_local_fs(fs: Any) -> bool:
    protocol = getattr(fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in protocols or "local" in protocols
