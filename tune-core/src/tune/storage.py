"""Where an experiment's files live: a local directory, or an fsspec URL mirrored from one.

``RunConfig(storage_path=...)`` is either a local path or a URL that fsspec knows
(``s3://bucket/prefix``, ``gs://...``, ``memory://...``, ``file:///...``). Trials always write
into a local directory, ``local_experiment_dir``:

- local storage: ``local_experiment_dir == experiment_path == <storage_path>/<name>``; every
  sync method is a no-op.
- URL storage: ``local_experiment_dir`` is a staging directory,
  ``<TUNE_STAGING_DIR or ~/.cache/tune/staging>/<name>-<hash of the URL>/<name>``, and
  ``experiment_path`` is the URL ``<storage_path>/<name>``. :meth:`StorageContext.sync_up`
  mirrors the staging directory to the URL in a background thread, uploading only files whose
  size or modification time changed since they were last uploaded, and deleting remote copies
  of files it uploaded that are gone locally (checkpoints removed by ``num_to_keep``).

Each upload pass reads the experiment state files (``experiment_state*.json``, ``tuner.pkl``,
``journal*``) first, uploads every other file, and only then writes the state files: the
remote state never names a file that is not there yet. State files are written under a
temporary name and moved into place where a move is a rename (local and network file
systems); object stores (S3, GCS, Azure, memory) replace an object in one request anyway.

fsspec is imported only when a URL is used (``pip install 'tune-core[fsspec]'``; S3 also needs
s3fs: ``pip install 'tune-core[s3]'``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import posixpath
import shutil
import threading
import time
from typing import Any

from tune.errors import TuneError, TuneValueError

logger = logging.getLogger("tune")

STATE_FILE_PATTERNS = ("experiment_state*.json", "tuner.pkl", "journal*")
#: files whose presence marks an experiment directory (``exists``)
EXPERIMENT_MARKERS = ("experiment_state.json", "tuner.pkl")
DEFAULT_SYNC_PERIOD_S = 30.0
#: fsspec protocols whose single-object writes are atomic and where a "move" is a copy
_OBJECT_STORES = frozenset(
    {
        "s3",
        "s3a",
        "gs",
        "gcs",
        "az",
        "abfs",
        "abfss",
        "adl",
        "oci",
        "oss",
        "memory",
        "http",
        "https",
    }
)
_UPLOAD_BATCH = 256


class StorageSyncError(TuneError):
    """Uploading the experiment to, or downloading it from, its storage URL failed."""


# -- helpers ----------------------------------------------------------------------------------


def is_url(path: Any) -> bool:
    """Whether ``path`` is a ``scheme://...`` URL (handled by fsspec) rather than a local path."""
    return isinstance(path, str) and "://" in path


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise ImportError(
            "Storing experiments at a URL (RunConfig(storage_path='s3://...')) needs fsspec, "
            "which is not installed: pip install 'tune-core[fsspec]' (for S3: "
            "pip install 'tune-core[s3]')"
        ) from exc
    return fsspec


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def url_to_fs(url: str, filesystem: Any = None) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` for ``url``; ``filesystem`` is used when given.

    A missing fsspec, or a missing implementation of the URL's protocol (s3fs for ``s3://``),
    raises an ImportError that says what to install.
    """
    if filesystem is not None:
        return filesystem, filesystem._strip_protocol(url)
    fsspec = _fsspec()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        scheme = url.split("://", 1)[0].lower()
        hint = "pip install 'tune-core[s3]'" if scheme in ("s3", "s3a") else str(exc)
        raise ImportError(f"Cannot open {url!r}: {hint}") from exc
    except ValueError as exc:
        if "Protocol not known" in str(exc):
            raise TuneValueError(
                f"Invalid storage URL {url!r}: fsspec does not know its protocol ({exc}). "
                "Use a local path or a URL such as s3://bucket/prefix."
            ) from exc
        raise


def _join(url: str, *parts: str) -> str:
    out = url.rstrip("/")
    for part in parts:
        if part:
            out = f"{out}/{part.strip('/')}"
    return out


def _is_state_file(relpath: str) -> bool:
    if "/" in relpath:
        return False
    return any(fnmatch.fnmatchcase(relpath, p) for p in STATE_FILE_PATTERNS)


def _is_temporary(name: str) -> bool:
    """Files being written (``x.tmp-<pid>``, ``x.tmp.<pid>``) or directories being deleted
    (the checkpoint manager's ``.deleting-*``) are not uploaded."""
    return (
        ".tmp-" in name or ".tmp." in name or name.endswith(".tmp") or name.startswith(".deleting-")
    )


def _state_order(relpath: str) -> tuple[int, str]:
    """Journals first, then tuner.pkl, then the snapshot: the snapshot is the commit point."""
    if relpath.startswith("journal"):
        return (0, relpath)
    if relpath == "tuner.pkl":
        return (1, relpath)
    return (2, relpath)


def _env(name: str, default: str) -> str:
    """A documented ``TUNE_*`` variable (``tune.env``), or the raw environment's value."""
    from tune import env

    if name in env.ENV_VARS:
        return env.get(name) or default
    return os.environ.get(name) or default


def staging_root() -> str:
    """``TUNE_STAGING_DIR`` or ``~/.cache/tune/staging``."""
    return os.path.abspath(os.path.expanduser(_env("TUNE_STAGING_DIR", "~/.cache/tune/staging")))


def default_sync_period_s() -> float:
    """``TUNE_SYNC_PERIOD_S`` (default 30): least time between two periodic uploads."""
    raw = _env("TUNE_SYNC_PERIOD_S", str(DEFAULT_SYNC_PERIOD_S))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise TuneValueError(
            f"Invalid environment variable TUNE_SYNC_PERIOD_S={raw!r}: must be a number of "
            "seconds >= 0."
        )
    return value


def _scan(root: str) -> dict[str, tuple[int, int]]:
    """``{relative posix path: (size, mtime_ns)}`` of the regular files under ``root``."""
    found: dict[str, tuple[int, int]] = {}
    stack = [("", root)]
    while stack:
        rel, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _is_temporary(entry.name):
                        stack.append((name, entry.path))
                elif entry.is_file() and not _is_temporary(entry.name):
                    st = entry.stat()
                    found[name] = (st.st_size, st.st_mtime_ns)
            except FileNotFoundError:
                continue
    return found


def download_dir(fs: Any, remote: str, local: str) -> list[str]:
    """Copy every file under ``remote`` (a path in ``fs``) into directory ``local``.

    Returns the relative paths copied; an empty list when nothing is there.
    """
    remote = remote.rstrip("/")
    try:
        fs.invalidate_cache(remote)
    except Exception:  # noqa: BLE001 - a cache that cannot be cleared is only a stale cache
        pass
    try:
        found = fs.find(remote, withdirs=False)
    except FileNotFoundError:
        return []
    rels, lpaths, rpaths = [], [], []
    for rpath in found:
        rpath = fs._strip_protocol(rpath)
        rel = posixpath.relpath(rpath, remote)
        if rel in (".", "") or rel.startswith("../"):
            continue
        lpath = os.path.join(local, *rel.split("/"))
        os.makedirs(os.path.dirname(lpath), exist_ok=True)
        rels.append(rel)
        lpaths.append(lpath)
        rpaths.append(rpath)
    os.makedirs(local, exist_ok=True)
    if rpaths:
        fs.get(rpaths, lpaths)
    return rels


def exists(uri: str | os.PathLike, storage_filesystem: Any = None) -> bool:
    """Whether ``uri`` (a local path or URL) holds an experiment: ``experiment_state.json`` or
    ``tuner.pkl`` directly inside it. For ``Tuner.can_restore``."""
    uri = os.fspath(uri)
    if not is_url(uri) and storage_filesystem is None:
        root = os.path.abspath(os.path.expanduser(uri))
        return any(os.path.isfile(os.path.join(root, m)) for m in EXPERIMENT_MARKERS)
    fs, path = url_to_fs(uri, storage_filesystem)
    try:
        fs.invalidate_cache(path)
    except Exception:  # noqa: BLE001
        pass
    return any(fs.exists(_join(path, m)) for m in EXPERIMENT_MARKERS)


# -- the storage context ----------------------------------------------------------------------


class StorageContext:
    """Where one experiment's files live, and the syncing of its local copy to a URL.

    :param storage_path: a local directory, an fsspec URL, or ``None`` for the default
        (``TUNE_RESULTS_DIR``, ``~/tune_results``).
    :param experiment_name: the experiment directory's name.
    :param storage_filesystem: an fsspec filesystem to use for ``storage_path`` (for example
        ``s3fs.S3FileSystem(endpoint_url=...)``); ``storage_path`` is then a path inside it
        (a URL is accepted too).
    :param sync_period_s: least time between two non-forced :meth:`sync_up` passes
        (default: ``TUNE_SYNC_PERIOD_S``, 30 s).

    Constructing a context for a URL empties its staging directory (the remote copy is the
    truth); :meth:`for_restore` fills it from the URL instead.
    """

    def __init__(
        self,
        storage_path: str | os.PathLike | None,
        experiment_name: str,
        storage_filesystem: Any = None,
        *,
        sync_period_s: float | None = None,
        _clear_staging: bool = True,
    ) -> None:
        if not experiment_name or experiment_name.strip("/") in ("", ".", ".."):
            raise TuneValueError(
                f"Invalid experiment name {experiment_name!r}: it must name a directory."
            )
        if storage_path is not None:
            storage_path = os.fspath(storage_path)
        self.experiment_name = experiment_name
        self.is_remote = storage_filesystem is not None or is_url(storage_path)
        self.sync_period_s = DEFAULT_SYNC_PERIOD_S
        if sync_period_s is not None:
            self.sync_period_s = float(sync_period_s)
        elif self.is_remote:
            self.sync_period_s = default_sync_period_s()
        if not self.is_remote:
            if storage_path is None:
                from tune.experiment import default_storage_path

                storage_path = default_storage_path()
            storage_path = os.path.abspath(os.path.expanduser(storage_path))
            self.storage_path: str = storage_path
            self.filesystem: Any = None
            self.local_experiment_dir = os.path.join(storage_path, experiment_name)
            self.experiment_path = self.local_experiment_dir
            self.experiment_fs_path = self.local_experiment_dir
            self._init_sync_state()
            return
        if storage_path is None:
            raise TuneValueError(
                "Invalid storage_path=None with a storage_filesystem: name the path inside the "
                "filesystem where experiments go."
            )
        fs, fs_root = url_to_fs(storage_path, storage_filesystem)
        self.filesystem = fs
        if is_url(storage_path):
            self.storage_path = storage_path.rstrip("/")
        else:
            self.storage_path = fs.unstrip_protocol(fs_root).rstrip("/")
        self.experiment_path = _join(self.storage_path, experiment_name)
        self.experiment_fs_path = _join(fs_root, experiment_name)
        digest = hashlib.sha1(self.experiment_path.encode("utf-8")).hexdigest()[:8]
        # <root>/<name>-<hash>/<name>: the local directory keeps the experiment's name, so
        # paths recorded in the experiment state relocate by name as local ones do.
        leaf = experiment_name.strip("/").replace("/", "_")
        self.local_experiment_dir = os.path.join(staging_root(), f"{leaf}-{digest}", leaf)
        self._atomic_put = bool(set(_protocols(fs)) & _OBJECT_STORES)
        if _clear_staging:
            shutil.rmtree(self.local_experiment_dir, ignore_errors=True)
        self._init_sync_state()

    def _init_sync_state(self) -> None:
        self._uploaded: dict[str, tuple[int, int]] = {}
        self._cond = threading.Condition()
        self._full_pending = False
        self._dirs_pending: set[str] = set()
        self._running = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._last_request = float("-inf")
        self._last_warning = ""
        self.stats = {"passes": 0, "files_uploaded": 0, "bytes_uploaded": 0, "files_deleted": 0}

    # -- construction for restore ----------------------------------------------------------
    @classmethod
    def for_restore(
        cls,
        uri_or_path: str | os.PathLike,
        storage_filesystem: Any = None,
        *,
        sync_period_s: float | None = None,
    ) -> StorageContext:
        """A context for the existing experiment at ``uri_or_path``.

        For a URL the whole experiment (state, trial directories, checkpoints) is downloaded
        into the staging directory, and ``sync_up`` uploads back to the same URL. A local path
        is used where it is. Raises ``TuneValueError`` naming the URL when no experiment is
        stored there.
        """
        uri = os.fspath(uri_or_path).rstrip("/") or "/"
        remote = is_url(uri) or storage_filesystem is not None
        if not remote:
            path = os.path.abspath(os.path.expanduser(uri))
            parent, name = os.path.split(path)
            return cls(parent, name, sync_period_s=sync_period_s)
        parent, _, name = uri.rpartition("/")
        if not name or parent.endswith(":/") or parent.endswith("://"):
            # "s3://bucket": the bucket itself is the experiment directory
            raise TuneValueError(
                f"Invalid restore path {uri!r}: name the experiment directory, "
                "<storage_path>/<experiment name>."
            )
        ctx = cls(
            parent, name, storage_filesystem, sync_period_s=sync_period_s, _clear_staging=True
        )
        fs = ctx.filesystem
        try:
            copied = download_dir(fs, ctx.experiment_fs_path, ctx.local_experiment_dir)
        except Exception as exc:  # noqa: BLE001 - network and permission errors alike
            raise StorageSyncError(
                f"Downloading the experiment at {ctx.experiment_path!r} into "
                f"{ctx.local_experiment_dir!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not copied:
            raise TuneValueError(
                f"No experiment found at {ctx.experiment_path!r}: nothing is stored there. "
                "Pass the experiment's URL, <storage_path>/<experiment name>."
            )
        if not any(_is_state_file(rel) for rel in copied):
            raise TuneValueError(
                f"No experiment found at {ctx.experiment_path!r}: it holds "
                f"{len(copied)} file(s) but no experiment state (experiment_state.json, "
                "tuner.pkl or a journal). Pass the experiment directory, "
                "<storage_path>/<experiment name>."
            )
        # What was downloaded is on the remote already.
        ctx._uploaded = _scan(ctx.local_experiment_dir)
        return ctx

    # -- paths ------------------------------------------------------------------------------
    def remote_path_for(self, local_path: str | os.PathLike) -> str:
        """The persistent location (URL, or the same local path) of a path under the local
        experiment directory; paths outside it are returned unchanged."""
        local_path = os.fspath(local_path)
        if not self.is_remote:
            return local_path
        rel = self._relpath(local_path)
        if rel is None:
            return local_path
        return self.experiment_path if rel == "" else _join(self.experiment_path, rel)

    def local_path_for(self, path: str | os.PathLike) -> str:
        """The inverse of :meth:`remote_path_for`: a URL under ``experiment_path`` mapped to
        the staging directory; anything else is returned unchanged."""
        path = os.fspath(path)
        if not self.is_remote or not is_url(path):
            return path
        base = self.experiment_path.rstrip("/")
        if path.rstrip("/") == base:
            return self.local_experiment_dir
        if path.startswith(base + "/"):
            rel = path[len(base) + 1 :].strip("/")
            return os.path.join(self.local_experiment_dir, *rel.split("/"))
        return path

    def _relpath(self, local_path: str) -> str | None:
        root = os.path.abspath(self.local_experiment_dir)
        path = os.path.abspath(local_path)
        if path == root:
            return ""
        if not path.startswith(root + os.sep):
            return None
        return path[len(root) + 1 :].replace(os.sep, "/")

    # -- syncing ----------------------------------------------------------------------------
    def sync_up(self, force: bool = False) -> bool:
        """Start uploading new and changed files of the local experiment directory.

        Runs in a background thread, one pass at a time; a call while a pass runs makes
        another pass follow it. Without ``force``, calls within ``sync_period_s`` of the last
        accepted one are ignored. Returns whether a pass was requested (always ``False`` for
        local storage).
        """
        if not self.is_remote:
            return False
        with self._cond:
            now = time.monotonic()
            if not force and now - self._last_request < self.sync_period_s:
                return False
            self._last_request = now
            self._full_pending = True
            self._ensure_thread()
            self._cond.notify_all()
        return True

    def sync_trial_dir(self, path: str | os.PathLike, wait: bool = False) -> bool:
        """Upload one directory under the experiment (a trial directory, a checkpoint) now,
        ahead of the periodic passes; ``wait=True`` blocks until it is uploaded."""
        if not self.is_remote:
            return False
        rel = self._relpath(os.fspath(path))
        if rel is None:
            raise TuneValueError(
                f"Invalid path {os.fspath(path)!r}: it is not inside the experiment directory "
                f"{self.local_experiment_dir!r}."
            )
        with self._cond:
            if rel == "":
                self._full_pending = True
            else:
                self._dirs_pending.add(rel)
            self._ensure_thread()
            self._cond.notify_all()
        if wait:
            self.wait()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until every requested upload is done; re-raise the last pass's error.

        :raises StorageSyncError: naming the URL, when the last upload pass failed.
        :raises TimeoutError: when ``timeout`` seconds passed first.
        """
        if not self.is_remote:
            return
        with self._cond:
            done = self._cond.wait_for(
                lambda: (
                    not (self._full_pending or self._dirs_pending or self._running)
                    or self._thread is None
                ),
                timeout,
            )
            if not done:
                raise TimeoutError(
                    f"Uploading to {self.experiment_path!r} did not finish in {timeout} s."
                )
            error, self._error = self._error, None
        if error is not None:
            raise StorageSyncError(
                f"Uploading the experiment from {self.local_experiment_dir!r} to "
                f"{self.experiment_path!r} failed: {type(error).__name__}: {error}"
            ) from error

    def close(self, sync: bool = True) -> None:
        """Stop the upload thread; with ``sync`` (default) upload everything first and raise
        as :meth:`wait` does."""
        if not self.is_remote:
            return
        try:
            if sync:
                self.sync_up(force=True)
                self.wait()
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
                thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join()
            with self._cond:
                self._thread = None
                self._closing = False

    def __enter__(self) -> StorageContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(sync=exc[0] is None)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_cond", "_thread"):
            state.pop(key, None)
        state["_error"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        uploaded = state.get("_uploaded", {})
        self.__dict__.update(state)
        self._init_sync_state()
        self._uploaded = dict(uploaded)

    def __repr__(self) -> str:
        if not self.is_remote:
            return f"StorageContext(experiment_path={self.experiment_path!r})"
        return (
            f"StorageContext(experiment_path={self.experiment_path!r}, "
            f"local_experiment_dir={self.local_experiment_dir!r})"
        )

    # -- the upload thread ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._worker, name=f"tune-sync-{self.experiment_name}", daemon=True
            )
            self._thread.start()

    def _worker(self) -> None:
        while True:
            with self._cond:
                while not (self._full_pending or self._dirs_pending or self._closing):
                    self._cond.wait()
                if not (self._full_pending or self._dirs_pending):
                    return
                full, dirs = self._full_pending, self._dirs_pending
                self._full_pending, self._dirs_pending = False, set()
                self._running = True
            error: BaseException | None = None
            try:
                if full:
                    self._sync_pass(None)
                else:
                    self._sync_pass(sorted(dirs))
            except BaseException as exc:  # noqa: BLE001 - reported by wait()
                error = exc
            with self._cond:
                self._running = False
                if error is not None:
                    self._error = error
                    message = f"{type(error).__name__}: {error}"
                    if message != self._last_warning:
                        self._last_warning = message
                        logger.warning(
                            "Uploading the experiment to %s failed (will retry): %s",
                            self.experiment_path,
                            message,
                        )
                elif full:
                    self._error = None
                self._cond.notify_all()

    def _sync_pass(self, only: list[str] | None) -> None:
        """One upload pass: everything (``only=None``) or the subtrees named in ``only``."""
        root = self.local_experiment_dir
        self.stats["passes"] += 1
        if not os.path.isdir(root):
            return
        # 0. Files removed locally before the state is read: that state no longer needs them.
        removed_before = (
            {rel for rel in self._uploaded if not os.path.exists(os.path.join(root, rel))}
            if only is None
            else set()
        )
        # 1. Read the state files first: whatever they name exists locally by now.
        states: list[tuple[str, bytes, tuple[int, int]]] = []
        if only is None:
            for entry in sorted(os.scandir(root), key=lambda e: _state_order(e.name)):
                if not entry.is_file() or not _is_state_file(entry.name):
                    continue
                try:
                    st = entry.stat()
                    sig = (st.st_size, st.st_mtime_ns)
                    if self._uploaded.get(entry.name) == sig:
                        continue
                    with open(entry.path, "rb") as f:
                        states.append((entry.name, f.read(), sig))
                except FileNotFoundError:
                    continue
        # 2. Everything else that is new or changed.
        if only is None:
            current = _scan(root)
        else:
            current = {}
            for rel in only:
                sub = _scan(os.path.join(root, *rel.split("/")))
                current.update({f"{rel}/{name}": sig for name, sig in sub.items()})
        changed = [
            (rel, sig)
            for rel, sig in sorted(current.items())
            if not _is_state_file(rel) and self._uploaded.get(rel) != sig
        ]
        self._upload_files(changed)
        # 3. The state files, the commit point of the pass.
        for rel, data, sig in states:
            self._write_state_file(rel, data)
            self._uploaded[rel] = sig
            self.stats["files_uploaded"] += 1
            self.stats["bytes_uploaded"] += len(data)
        # 4. Remote copies of files removed locally, once a state read after their removal
        #    is uploaded (files removed during this pass go in the next one).
        if only is None:
            gone = [rel for rel in removed_before if rel not in current]
            if gone:
                self._delete_remote(gone)

    def _remote(self, rel: str) -> str:
        return _join(self.experiment_fs_path, rel)

    def _make_parents(self, rels: list[str]) -> None:
        if self._atomic_put:
            return  # object stores have no directories
        parents = sorted({posixpath.dirname(self._remote(rel)) for rel in rels})
        for parent in parents:
            self.filesystem.makedirs(parent, exist_ok=True)

    def _upload_files(self, changed: list[tuple[str, tuple[int, int]]]) -> None:
        fs, root = self.filesystem, self.local_experiment_dir
        for start in range(0, len(changed), _UPLOAD_BATCH):
            batch = changed[start : start + _UPLOAD_BATCH]
            rels = [rel for rel, _ in batch]
            lpaths = [os.path.join(root, *rel.split("/")) for rel in rels]
            rpaths = [self._remote(rel) for rel in rels]
            self._make_parents(rels)
            try:
                fs.put(lpaths, rpaths)
                done = batch
            except Exception:  # noqa: BLE001 - retried file by file to find the culprit
                done = []
                for (rel, sig), lpath, rpath in zip(batch, lpaths, rpaths):
                    try:
                        fs.put_file(lpath, rpath)
                    except FileNotFoundError:
                        if os.path.exists(lpath):
                            raise
                        continue  # removed locally while uploading (checkpoint retention)
                    done.append((rel, sig))
            for rel, sig in done:
                self._uploaded[rel] = sig
                self.stats["files_uploaded"] += 1
                self.stats["bytes_uploaded"] += sig[0]

    def _write_state_file(self, rel: str, data: bytes) -> None:
        fs = self.filesystem
        target = self._remote(rel)
        self._make_parents([rel])
        if self._atomic_put:
            fs.pipe_file(target, data)
            return
        tmp = f"{target}.tmp-{os.getpid()}-{threading.get_ident()}"
        fs.pipe_file(tmp, data)
        try:
            fs.mv(tmp, target)
        except Exception:
            try:
                fs.rm(tmp)
            except Exception:  # noqa: BLE001
                pass
            raise

    def _delete_remote(self, gone: list[str]) -> None:
        fs, root = self.filesystem, self.local_experiment_dir
        removed_dirs: set[str] = set()
        for rel in sorted(gone):
            parts = rel.split("/")
            # the topmost directory of this file that is gone locally goes as a whole
            top = None
            for i in range(1, len(parts)):
                if not os.path.exists(os.path.join(root, *parts[:i])):
                    top = "/".join(parts[:i])
                    break
            try:
                if top is not None:
                    if top not in removed_dirs:
                        removed_dirs.add(top)
                        if fs.exists(self._remote(top)):
                            fs.rm(self._remote(top), recursive=True)
                else:
                    fs.rm_file(self._remote(rel))
            except FileNotFoundError:
                pass
            self._uploaded.pop(rel, None)
            self.stats["files_deleted"] += 1


def point_trials_at(trials: list, storage: StorageContext) -> None:
    """Results name the persistent location (the storage URL), not the staging directory."""
    from tune.trainable.checkpoint import Checkpoint

    for trial in trials:
        if trial.path:
            trial.path = storage.remote_path_for(trial.path)
        if trial.checkpoint is not None and trial.checkpoint._path is not None:
            trial.checkpoint = Checkpoint(storage.remote_path_for(trial.checkpoint.path))
        if getattr(trial, "kept_checkpoints", None):
            trial.kept_checkpoints = [
                (storage.remote_path_for(getattr(p, "path", p)), m)
                for p, m in trial.kept_checkpoints
            ]
