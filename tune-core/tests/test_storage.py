"""Experiment storage: local paths, fsspec URLs (memory://, file://) and a real S3-protocol
server (moto's, started by these tests on loopback), and ``tune.Checkpoint`` on URLs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tune.errors import TuneValueError
from tune.storage import StorageContext, StorageSyncError, exists, url_to_fs
from tune.trainable.checkpoint import Checkpoint

fsspec = pytest.importorskip("fsspec")
from fsspec.implementations.local import LocalFileSystem  # noqa: E402
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402


@pytest.fixture(autouse=True)
def staging(tmp_path, monkeypatch):
    root = tmp_path / "staging"
    monkeypatch.setenv("TUNE_STAGING_DIR", str(root))
    return root


@pytest.fixture
def mem_url():
    """A fresh memory:// storage path, removed afterwards (the store is per process)."""
    base = f"memory://tune-tests/{uuid.uuid4().hex[:8]}"
    yield base
    fs = MemoryFileSystem()
    if fs.exists(base):
        fs.rm(base, recursive=True)


def write(path, text="x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_experiment(local_dir, trials=2):
    for i in range(trials):
        trial = os.path.join(local_dir, f"trial_{i}")
        write(os.path.join(trial, "params.json"), '{"x": %d}' % i)
        write(os.path.join(trial, "result.json"), '{"loss": 1.0}\n')
        write(os.path.join(trial, "checkpoint_000001", "model.txt"), f"weights {i}")
    write(os.path.join(local_dir, "experiment_state.json"), '{"trials": []}')
    write(os.path.join(local_dir, "journal-1.jsonl"), "")


def remote_files(fs, root):
    root = fs._strip_protocol(root).rstrip("/")
    fs.invalidate_cache()
    return sorted(p[len(root) + 1 :] for p in fs.find(root))


# ---- local storage --------------------------------------------------------------------------


def test_local_storage_is_the_experiment_dir(tmp_path, monkeypatch):
    ctx = StorageContext(str(tmp_path / "results"), "exp")
    assert not ctx.is_remote and ctx.filesystem is None
    assert ctx.local_experiment_dir == ctx.experiment_path == str(tmp_path / "results" / "exp")
    assert ctx.sync_up(force=True) is False
    assert ctx.sync_trial_dir(os.path.join(ctx.local_experiment_dir, "t")) is False
    ctx.wait()
    ctx.close()
    path = os.path.join(ctx.local_experiment_dir, "t", "f")
    assert ctx.remote_path_for(path) == path == ctx.local_path_for(path)

    monkeypatch.setenv("TUNE_RESULTS_DIR", str(tmp_path / "default"))
    ctx = StorageContext(None, "exp")
    assert ctx.experiment_path == str(tmp_path / "default" / "exp")

    restored = StorageContext.for_restore(str(tmp_path / "results" / "exp"))
    assert restored.experiment_path == str(tmp_path / "results" / "exp")
    assert not restored.is_remote


def test_exists_local(tmp_path):
    assert not exists(str(tmp_path))
    write(str(tmp_path / "tuner.pkl"))
    assert exists(str(tmp_path))


def test_bad_urls():
    with pytest.raises(TuneValueError, match="nosuchproto://x"):
        StorageContext("nosuchproto://x", "exp")
    with pytest.raises(TuneValueError, match="must name a directory"):
        StorageContext("memory://x", "..")


def test_sync_period_from_environment(mem_url, monkeypatch):
    assert StorageContext(mem_url, "exp").sync_period_s == 30
    monkeypatch.setenv("TUNE_SYNC_PERIOD_S", "2.5")
    assert StorageContext(mem_url, "exp").sync_period_s == 2.5
    assert StorageContext(mem_url, "exp", sync_period_s=0).sync_period_s == 0
    monkeypatch.setenv("TUNE_SYNC_PERIOD_S", "soon")
    with pytest.raises(TuneValueError, match="TUNE_SYNC_PERIOD_S"):
        StorageContext(mem_url, "exp")


def test_missing_fsspec_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match=r"pip install 'tune-core\[fsspec\]'"):
        url_to_fs("memory://x")


def test_import_tune_does_not_import_fsspec():
    code = "import sys, tune, tune.storage; print('fsspec' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- memory:// ------------------------------------------------------------------------------


def test_url_storage_stages_locally_and_syncs(mem_url, staging):
    ctx = StorageContext(mem_url, "exp")
    assert ctx.is_remote and isinstance(ctx.filesystem, MemoryFileSystem)
    assert ctx.experiment_path == f"{mem_url}/exp"
    parent, name = os.path.split(ctx.local_experiment_dir)
    assert name == "exp" and os.path.dirname(parent) == str(staging)
    assert os.path.basename(parent).startswith("exp-")
    # another URL, another staging directory
    assert StorageContext(mem_url + "2", "exp").local_experiment_dir != ctx.local_experiment_dir

    make_experiment(ctx.local_experiment_dir)
    assert ctx.sync_up() is True
    ctx.wait()
    fs = ctx.filesystem
    assert remote_files(fs, ctx.experiment_path) == [
        "experiment_state.json",
        "journal-1.jsonl",
        "trial_0/checkpoint_000001/model.txt",
        "trial_0/params.json",
        "trial_0/result.json",
        "trial_1/checkpoint_000001/model.txt",
        "trial_1/params.json",
        "trial_1/result.json",
    ]
    assert fs.cat(f"{ctx.experiment_path}/trial_1/checkpoint_000001/model.txt") == b"weights 1"

    # paths map both ways
    local = os.path.join(ctx.local_experiment_dir, "trial_0", "checkpoint_000001")
    assert ctx.remote_path_for(local) == f"{mem_url}/exp/trial_0/checkpoint_000001"
    assert ctx.local_path_for(ctx.remote_path_for(local)) == local
    assert ctx.remote_path_for(ctx.local_experiment_dir) == ctx.experiment_path
    assert ctx.remote_path_for("/elsewhere/x") == "/elsewhere/x"
    ctx.close()


def test_sync_is_incremental_and_mirrors_deletions(mem_url):
    ctx = StorageContext(mem_url, "exp")
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_up(force=True)
    ctx.wait()
    first = ctx.stats["files_uploaded"]
    assert first == 8

    ctx.sync_up(force=True)  # nothing changed: nothing uploaded
    ctx.wait()
    assert ctx.stats["files_uploaded"] == first

    result = os.path.join(ctx.local_experiment_dir, "trial_0", "result.json")
    with open(result, "a") as f:
        f.write('{"loss": 0.5}\n')
    write(os.path.join(ctx.local_experiment_dir, "trial_0", "checkpoint_000002", "model.txt"))
    write(os.path.join(ctx.local_experiment_dir, "trial_0", "state.json.tmp-123"))  # in flight
    write(os.path.join(ctx.local_experiment_dir, "trial_0", "progress.csv.tmp.123"))
    # the checkpoint manager deletes by renaming to .deleting-<name>-<random> first
    trial_1 = os.path.join(ctx.local_experiment_dir, "trial_1")
    os.rename(
        os.path.join(trial_1, "checkpoint_000001"),
        os.path.join(trial_1, ".deleting-checkpoint_000001-abcd"),
    )
    ctx.sync_up(force=True)
    ctx.wait()
    assert ctx.stats["files_uploaded"] == first + 2
    files = remote_files(ctx.filesystem, ctx.experiment_path)
    assert "trial_0/checkpoint_000002/model.txt" in files
    assert not any(".tmp" in f or ".deleting-" in f for f in files)
    assert not any(f.startswith("trial_1/checkpoint_000001") for f in files)
    assert not ctx.filesystem.exists(f"{ctx.experiment_path}/trial_1/checkpoint_000001")
    assert ctx.filesystem.cat(f"{ctx.experiment_path}/trial_0/result.json").count(b"\n") == 2
    ctx.close()


def test_remote_deletions_wait_for_a_state_read_after_them(mem_url):
    fs = recording_fs()
    ctx = StorageContext(mem_url, "exp", storage_filesystem=fs)
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_up(force=True)
    ctx.wait()
    doomed = os.path.join(ctx.local_experiment_dir, "trial_0", "checkpoint_000001")
    remote = f"{ctx.experiment_path}/trial_0/checkpoint_000001/model.txt"

    def delete_during_upload():  # retention deletes a checkpoint while a pass uploads
        import shutil

        shutil.rmtree(doomed)

    type(fs).on_put = staticmethod(delete_during_upload)
    write(os.path.join(ctx.local_experiment_dir, "trial_0", "result.json"), "changed")
    ctx.sync_up(force=True)
    ctx.wait()
    assert not os.path.exists(doomed)
    assert fs.exists(remote)  # the state uploaded in that pass may still name it
    type(fs).on_put = None
    ctx.sync_up(force=True)
    ctx.wait()
    assert not fs.exists(remote)
    ctx.close()


class RecordingMemoryFS(MemoryFileSystem):
    """Records the order of uploads; ``delay`` slows each file down."""

    protocol = "memory"
    delay = 0.0
    fail = False
    on_put = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log: list[str] = []

    def put_file(self, lpath, rpath, *args, **kwargs):
        if self.fail:
            raise PermissionError("access denied")
        time.sleep(self.delay)
        if self.on_put is not None:
            self.on_put()
        self.log.append(rpath.rsplit("/exp/", 1)[-1])
        return super().put_file(lpath, rpath, *args, **kwargs)

    def pipe_file(self, path, value, *args, **kwargs):
        if self.fail:
            raise PermissionError("access denied")
        self.log.append(path.rsplit("/exp/", 1)[-1])
        return super().pipe_file(path, value, *args, **kwargs)


def recording_fs(**attrs):
    cls = type("RecordingFS", (RecordingMemoryFS,), dict(attrs, cachable=False))
    return cls()


def test_state_files_are_uploaded_last(mem_url):
    fs = recording_fs()
    ctx = StorageContext(mem_url, "exp", storage_filesystem=fs)
    make_experiment(ctx.local_experiment_dir)
    write(os.path.join(ctx.local_experiment_dir, "tuner.pkl"))
    write(os.path.join(ctx.local_experiment_dir, "experiment_state-2024.json"))
    ctx.sync_up(force=True)
    ctx.wait()
    state = ["journal-1.jsonl", "tuner.pkl", "experiment_state-2024.json", "experiment_state.json"]
    assert fs.log[-4:] == state
    assert len(fs.log) == 10 and not set(fs.log[:-4]) & set(state)

    # a state file written while data is uploading is uploaded as it was read, after the data
    fs.log.clear()
    write(os.path.join(ctx.local_experiment_dir, "experiment_state.json"), '{"v": 2}')
    write(os.path.join(ctx.local_experiment_dir, "trial_0", "checkpoint_000002", "m"))
    ctx.sync_up(force=True)
    ctx.wait()
    assert fs.log == ["trial_0/checkpoint_000002/m", "experiment_state.json"]
    ctx.close()


class RecordingLocalFS(LocalFileSystem):
    cachable = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.moves: list[tuple[str, str]] = []

    def mv(self, path1, path2, *args, **kwargs):
        self.moves.append((path1, path2))
        return super().mv(path1, path2, *args, **kwargs)


def test_state_files_are_moved_into_place_on_file_systems(tmp_path):
    fs = RecordingLocalFS()
    remote = tmp_path / "remote"
    ctx = StorageContext(str(remote), "exp", storage_filesystem=fs)
    assert ctx.is_remote and ctx.experiment_path == f"file://{remote}/exp"
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_up(force=True)
    ctx.wait()
    assert sorted(os.path.basename(dst) for _, dst in fs.moves) == [
        "experiment_state.json",
        "journal-1.jsonl",
    ]
    assert all(".tmp-" in src for src, _ in fs.moves)
    assert (
        remote / "exp" / "trial_1" / "checkpoint_000001" / "model.txt"
    ).read_text() == "weights 1"
    assert not [p for p in remote.rglob("*") if ".tmp-" in p.name]
    assert exists(f"file://{remote}/exp")
    ctx.close()


def test_file_url_round_trip(tmp_path, staging):
    url = f"file://{tmp_path}/remote"
    ctx = StorageContext(url, "exp")
    make_experiment(ctx.local_experiment_dir)
    ctx.close()  # uploads everything
    assert (tmp_path / "remote" / "exp" / "experiment_state.json").exists()
    restored = StorageContext.for_restore(f"{url}/exp")
    assert os.path.isfile(os.path.join(restored.local_experiment_dir, "trial_0", "params.json"))


def test_background_passes_coalesce_and_rate_limit(mem_url):
    fs = recording_fs(delay=0.02)
    ctx = StorageContext(mem_url, "exp", storage_filesystem=fs, sync_period_s=3600)
    make_experiment(ctx.local_experiment_dir, trials=4)
    start = time.monotonic()
    assert ctx.sync_up() is True
    assert time.monotonic() - start < 0.1  # the upload runs in the background
    assert ctx.sync_up() is False  # rate-limited
    time.sleep(0.05)
    # a forced call while the pass runs: another pass follows and picks up the new file
    write(os.path.join(ctx.local_experiment_dir, "late.txt"))
    assert ctx.sync_up(force=True) is True
    assert ctx.sync_up(force=True) is True  # still one pending pass, not two
    ctx.wait()
    assert ctx.stats["passes"] == 2
    assert "late.txt" in fs.log
    ctx.close()
    assert ctx._thread is None


def test_sync_trial_dir_uploads_one_directory(mem_url):
    fs = recording_fs()
    ctx = StorageContext(mem_url, "exp", storage_filesystem=fs)
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_trial_dir(os.path.join(ctx.local_experiment_dir, "trial_1"), wait=True)
    assert sorted(fs.log) == [
        "trial_1/checkpoint_000001/model.txt",
        "trial_1/params.json",
        "trial_1/result.json",
    ]
    with pytest.raises(TuneValueError, match="not inside the experiment directory"):
        ctx.sync_trial_dir("/somewhere/else")
    ctx.close()


def test_upload_errors_name_the_url_and_heal(mem_url):
    fs = recording_fs(fail=True)
    ctx = StorageContext(mem_url, "exp", storage_filesystem=fs)
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_up(force=True)
    with pytest.raises(StorageSyncError, match=f"{mem_url}/exp.*access denied"):
        ctx.wait()
    type(fs).fail = False
    ctx.sync_up(force=True)
    ctx.wait()  # the next successful pass uploads everything
    assert len(remote_files(fs, ctx.experiment_path)) == 8
    ctx.close()


def test_for_restore_downloads_and_syncs_back(mem_url, staging):
    ctx = StorageContext(mem_url, "exp")
    make_experiment(ctx.local_experiment_dir)
    ctx.close()
    import shutil

    shutil.rmtree(staging)

    restored = StorageContext.for_restore(f"{mem_url}/exp/")
    assert restored.experiment_path == f"{mem_url}/exp"
    assert restored.local_experiment_dir == ctx.local_experiment_dir
    local = restored.local_experiment_dir
    with open(os.path.join(local, "trial_1", "checkpoint_000001", "model.txt")) as f:
        assert f.read() == "weights 1"
    restored.sync_up(force=True)
    restored.wait()
    assert restored.stats["files_uploaded"] == 0  # what was downloaded is not uploaded again
    write(os.path.join(local, "trial_2", "params.json"))
    restored.close()
    assert restored.stats["files_uploaded"] == 1
    assert restored.filesystem.exists(f"{mem_url}/exp/trial_2/params.json")


def test_for_restore_errors_name_the_url(mem_url):
    with pytest.raises(TuneValueError, match=f"No experiment found at '{mem_url}/nothing'"):
        StorageContext.for_restore(f"{mem_url}/nothing")
    fs = MemoryFileSystem()
    fs.pipe_file(f"{mem_url}/notexp/readme.txt", b"hi")
    with pytest.raises(TuneValueError, match="no experiment state"):
        StorageContext.for_restore(f"{mem_url}/notexp")


def test_exists_on_urls(mem_url):
    assert not exists(f"{mem_url}/exp")
    fs = MemoryFileSystem()
    fs.pipe_file(f"{mem_url}/exp/trial_0/result.json", b"{}")
    assert not exists(f"{mem_url}/exp")
    fs.pipe_file(f"{mem_url}/exp/experiment_state.json", b"{}")
    assert exists(f"{mem_url}/exp")
    assert exists(f"{mem_url}/exp", storage_filesystem=fs)


def test_storage_context_pickles(mem_url):
    ctx = StorageContext(mem_url, "exp")
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_up(force=True)
    ctx.wait()
    clone = pickle.loads(pickle.dumps(ctx))
    assert clone.experiment_path == ctx.experiment_path
    clone.sync_up(force=True)
    clone.wait()
    assert clone.stats["files_uploaded"] == 0
    ctx.close()
    clone.close()


# ---- Checkpoint on URLs ---------------------------------------------------------------------


def test_checkpoint_on_a_url(mem_url, tmp_path):
    fs = MemoryFileSystem()
    url = f"{mem_url}/exp/trial/checkpoint_000003"
    fs.pipe_file(f"{url}/model.txt", b"weights")
    fs.pipe_file(f"{url}/sub/extra.txt", b"more")
    ckpt = Checkpoint(url)
    assert ckpt.path == url and isinstance(ckpt.filesystem, MemoryFileSystem)
    assert repr(ckpt) == f"Checkpoint(filesystem=memory, path={url})"

    with ckpt.as_directory() as d:
        assert os.path.isdir(d) and not d.startswith("memory")
        with open(os.path.join(d, "model.txt")) as f:
            assert f.read() == "weights"
        with open(os.path.join(d, "sub", "extra.txt")) as f:
            assert f.read() == "more"
    assert not os.path.exists(d)  # the download is cleaned up

    target = ckpt.to_directory(str(tmp_path / "copy"))
    assert open(os.path.join(target, "sub", "extra.txt")).read() == "more"
    tmp = ckpt.to_directory()
    assert os.path.isfile(os.path.join(tmp, "model.txt"))

    ckpt.set_metadata({"epoch": 3})
    ckpt.update_metadata({"loss": 0.5})
    assert Checkpoint(url).get_metadata() == {"epoch": 3, "loss": 0.5}

    clone = pickle.loads(pickle.dumps(ckpt))
    assert clone == ckpt and hash(clone) == hash(ckpt) and clone.path == url
    assert Checkpoint(url + "/") == ckpt
    assert Checkpoint(url.rsplit("/", 1)[0]) != ckpt

    with pytest.raises(TuneValueError, match="holds no dict"):
        ckpt.to_dict()


def test_checkpoint_dict_on_a_url(mem_url):
    local = Checkpoint.from_dict({"step": 7})
    url = f"{mem_url}/ckpt"
    MemoryFileSystem().put(local.path + "/", url + "/", recursive=True)
    assert Checkpoint(url).to_dict() == {"step": 7}
    assert Checkpoint(url, filesystem=MemoryFileSystem()).to_dict() == {"step": 7}


def test_checkpoint_on_a_vanished_url(mem_url):
    with pytest.raises(TuneValueError, match=f"{mem_url}/gone"):
        with Checkpoint(f"{mem_url}/gone").as_directory():
            pass


def test_checkpoint_local_filesystem_is_local(tmp_path):
    ckpt = Checkpoint(str(tmp_path), filesystem=LocalFileSystem())
    assert ckpt.filesystem is None
    with ckpt.as_directory() as d:
        assert d == str(tmp_path)


# ---- a real S3-protocol server on loopback --------------------------------------------------

_MOTO = (
    "import threading\n"
    "from moto.server import ThreadedMotoServer\n"
    "server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)\n"
    "server.start()\n"
    "print(server.get_host_and_port()[1], flush=True)\n"
    "threading.Event().wait()\n"  # until terminated
)


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server in a child process on 127.0.0.1; fsspec's s3 defaults point at it."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    pytest.importorskip("flask")
    proc = subprocess.Popen(
        [sys.executable, "-c", _MOTO],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        pytest.fail(f"moto server did not start: {line!r}")
    endpoint = f"http://127.0.0.1:{int(line)}"
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,  # for child processes
    }
    import fsspec.config
    import s3fs

    with pytest.MonkeyPatch.context() as mp:
        for key, value in settings.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
        s3fs.S3FileSystem.clear_instance_cache()
        try:
            yield endpoint
        finally:
            # terminate, not EOF on a pipe: forked trial workers may hold the pipe's fds
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def bucket(s3_endpoint):
    import s3fs

    name = f"tune-{uuid.uuid4().hex[:10]}"
    fs = s3fs.S3FileSystem()
    fs.mkdir(name)
    yield name


def test_s3_sync_incremental_and_state_last(bucket):
    ctx = StorageContext(f"s3://{bucket}/prefix", "exp")
    assert ctx.experiment_path == f"s3://{bucket}/prefix/exp"
    make_experiment(ctx.local_experiment_dir)
    ctx.sync_up(force=True)
    ctx.wait()
    fs = ctx.filesystem
    assert len(remote_files(fs, ctx.experiment_path)) == 8
    assert fs.cat(f"{ctx.experiment_path}/trial_0/checkpoint_000001/model.txt") == b"weights 0"
    assert exists(ctx.experiment_path)
    assert not exists(f"s3://{bucket}/prefix/other")

    # only the changed file goes up again
    with open(os.path.join(ctx.local_experiment_dir, "trial_1", "result.json"), "a") as f:
        f.write('{"loss": 0.1}\n')
    before = ctx.stats["files_uploaded"]
    ctx.sync_up(force=True)
    ctx.wait()
    assert ctx.stats["files_uploaded"] == before + 1
    fs.invalidate_cache()
    assert fs.cat(f"{ctx.experiment_path}/trial_1/result.json").count(b"\n") == 2

    # state files last: compare S3's LastModified order of a fresh upload
    write(os.path.join(ctx.local_experiment_dir, "experiment_state.json"), '{"v": 2}')
    write(os.path.join(ctx.local_experiment_dir, "trial_9", "checkpoint_000001", "m"))
    ctx.close()
    fs.invalidate_cache()
    state_time = fs.info(f"{ctx.experiment_path}/experiment_state.json")["LastModified"]
    data_time = fs.info(f"{ctx.experiment_path}/trial_9/checkpoint_000001/m")["LastModified"]
    assert data_time <= state_time


def test_s3_restore_and_checkpoint(bucket, staging, tmp_path):
    ctx = StorageContext(f"s3://{bucket}/prefix", "exp")
    make_experiment(ctx.local_experiment_dir)
    ctx.close()
    import shutil

    shutil.rmtree(staging)
    restored = StorageContext.for_restore(f"s3://{bucket}/prefix/exp")
    local = os.path.join(restored.local_experiment_dir, "trial_0", "checkpoint_000001", "model.txt")
    assert open(local).read() == "weights 0"

    url = f"s3://{bucket}/prefix/exp/trial_1/checkpoint_000001"
    ckpt = Checkpoint(url)
    assert type(ckpt.filesystem).__name__ == "S3FileSystem"
    with ckpt.as_directory() as d:
        assert open(os.path.join(d, "model.txt")).read() == "weights 1"
    assert not os.path.exists(d)
    out = ckpt.to_directory(str(tmp_path / "out"))
    assert open(os.path.join(out, "model.txt")).read() == "weights 1"
    assert pickle.loads(pickle.dumps(ckpt)) == ckpt

    with pytest.raises(TuneValueError, match=f"s3://{bucket}/prefix/missing"):
        StorageContext.for_restore(f"s3://{bucket}/prefix/missing")
    with pytest.raises(TuneValueError, match=f"s3://{bucket}/nope"):
        Checkpoint(f"s3://{bucket}/nope").to_directory(str(tmp_path / "nope"))


def test_s3_upload_errors_name_the_url(s3_endpoint):
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/prefix"
    ctx = StorageContext(missing, "exp")
    make_experiment(ctx.local_experiment_dir, trials=1)
    ctx.sync_up(force=True)
    with pytest.raises(StorageSyncError, match=f"{missing}/exp"):
        ctx.wait()
    ctx.close(sync=False)


def test_s3_upload_throughput(bucket, capsys):
    """A sanity figure (files/s to the local moto server), not a benchmark."""
    ctx = StorageContext(f"s3://{bucket}/bench", "exp")
    n = 300
    for i in range(n):
        write(os.path.join(ctx.local_experiment_dir, f"trial_{i % 10}", f"f{i}.txt"), "x" * 256)
    start = time.perf_counter()
    ctx.sync_up(force=True)
    ctx.wait()
    elapsed = time.perf_counter() - start
    assert ctx.stats["files_uploaded"] == n
    with capsys.disabled():
        print(f"\nuploaded {n} files to moto in {elapsed:.2f} s: {n / elapsed:.0f} files/s")
    ctx.close()


def test_sync_up_from_another_thread_is_safe(mem_url):
    ctx = StorageContext(mem_url, "exp", sync_period_s=0)
    make_experiment(ctx.local_experiment_dir)
    threads = [threading.Thread(target=ctx.sync_up) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx.wait()
    assert ctx.stats["files_uploaded"] == 8
    ctx.close()


# ---- end to end: Tuner on URLs -------------------------------------------------------------


def _storage_wired_into_tuner() -> bool:
    import dataclasses

    from tune.experiment_spec import ExperimentSpec

    return "storage" in {f.name for f in dataclasses.fields(ExperimentSpec)}


# Remove this marker once Tuner/experiment_builder/controller use tune.storage.StorageContext
# (ExperimentSpec.storage): these tests passed against that integration.
needs_storage_integration = pytest.mark.skipif(
    not _storage_wired_into_tuner(),
    reason="tune.storage.StorageContext is not wired into Tuner yet (ExperimentSpec.storage)",
)


def _train(config):
    import tune

    checkpoint = tune.get_checkpoint()
    start = checkpoint.to_dict()["step"] + 1 if checkpoint is not None else 0
    for step in range(start, 3):
        ckpt = tune.Checkpoint.from_dict({"step": step})
        tune.report({"loss": config["x"] / (step + 1), "step": step}, checkpoint=ckpt)


@needs_storage_integration
def test_tuner_on_s3_end_to_end(bucket, staging):
    import shutil

    import tune

    storage_path = f"s3://{bucket}/prefix"
    tuner = tune.Tuner(
        _train,
        param_space={"x": tune.grid_search([1.0, 2.0])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(
            storage_path=storage_path,
            name="exp",
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )
    results = tuner.fit()
    assert results.experiment_path == f"{storage_path}/exp"
    assert not results.errors and len(results) == 2

    fs = url_to_fs(storage_path)[0]
    files = remote_files(fs, f"{storage_path}/exp")
    assert "experiment_state.json" in files and "tuner.pkl" in files
    for result in results:
        assert result.path.startswith(f"{storage_path}/exp/")
        rel = result.path[len(f"{storage_path}/exp/") :]
        for name in ("result.json", "params.json", "progress.csv"):
            assert f"{rel}/{name}" in files, (rel, name)
        # num_to_keep=2: the deleted checkpoint is gone from the bucket too
        kept = {f.split("/")[1] for f in files if f.startswith(f"{rel}/checkpoint_")}
        assert len(kept) == 2, kept
        assert result.checkpoint.path.startswith(f"s3://{bucket}/")
        with result.checkpoint.as_directory() as d:
            assert os.path.isfile(os.path.join(d, "dict_checkpoint.pkl"))
        assert result.checkpoint.to_dict() == {"step": 2}
        assert len(result.metrics_dataframe) == 3
    assert results.get_best_result().config["x"] == 1.0

    shutil.rmtree(staging)  # restore on a "new machine": only the bucket remains
    assert tune.Tuner.can_restore(f"{storage_path}/exp")
    assert not tune.Tuner.can_restore(f"{storage_path}/nope")
    restored = tune.Tuner.restore(f"{storage_path}/exp", _train)
    assert sorted(r.metrics["step"] for r in restored.get_results()) == [2, 2]
    again = restored.fit()
    assert again.experiment_path == f"{storage_path}/exp"
    assert sorted(r.metrics["step"] for r in again) == [2, 2]

    with pytest.raises(TuneValueError, match=f"{storage_path}/missing"):
        tune.Tuner.restore(f"{storage_path}/missing", _train)

    shutil.rmtree(staging)
    analysis = tune.ExperimentAnalysis(f"{storage_path}/exp")
    assert analysis.experiment_path == f"{storage_path}/exp"
    assert analysis.get_best_config()["x"] == 1.0
    assert all(t.path.startswith(f"{storage_path}/exp/") for t in analysis.trials)


def _flaky(config):
    import tune

    checkpoint = tune.get_checkpoint()
    start = checkpoint.to_dict()["step"] + 1 if checkpoint is not None else 0
    for step in range(start, 3):
        if step == 1 and checkpoint is None:
            raise RuntimeError("preempted")
        tune.report({"step": step}, checkpoint=tune.Checkpoint.from_dict({"step": step}))


@needs_storage_integration
def test_tuner_restore_from_s3_resumes_from_checkpoints(bucket, staging, monkeypatch, tmp_path):
    import shutil

    import tune

    storage_path = f"s3://{bucket}/prefix"
    run_config = tune.RunConfig(storage_path=storage_path, name="exp", verbose=0)
    tune.Tuner(_flaky, run_config=run_config).fit()
    shutil.rmtree(staging)
    # another machine: another staging directory; recorded paths must be relocated
    monkeypatch.setenv("TUNE_STAGING_DIR", str(tmp_path / "elsewhere"))
    results = tune.Tuner.restore(f"{storage_path}/exp", _flaky, resume_errored=True).fit()
    assert not results.errors
    [result] = results
    assert result.metrics["step"] == 2
    assert [row["step"] for row in result.metrics_dataframe.to_dict("records")] == [0, 1, 2]
    assert result.checkpoint.path.startswith(storage_path)
    assert not os.path.exists(staging)


@needs_storage_integration
def test_tuner_on_memory_url(mem_url):
    import tune

    results = tune.Tuner(
        _train,
        param_space={"x": 1.0},
        run_config=tune.RunConfig(storage_path=mem_url, name="exp", verbose=0),
    ).fit()
    assert results.experiment_path == f"{mem_url}/exp"
    [result] = results
    assert result.checkpoint.to_dict() == {"step": 2}
    assert exists(f"{mem_url}/exp")
    restored = tune.Tuner.restore(f"{mem_url}/exp", _train)
    assert [r.metrics["step"] for r in restored.get_results()] == [2]
