"""Watched workers: an item that hangs or kills its worker fails alone; the rest go on."""

from __future__ import annotations

import os
import shutil
import signal
import time
from functools import partial

import pytest

from analyzer.errors import MediaError, ModelError
from analyzer.limits import LimitOptions
from pipelines.supervised import ItemTimeout, SupervisedExecutor, WorkerCrashed
from tests.conftest import shared

# Items the workers run; module level so the spawned workers can import them.


def _work(item: str) -> str:
    if item == "hang":
        time.sleep(600)
    if item == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "bad":
        raise MediaError("bad.mp4", "cannot open as media (Invalid data)")
    return item.upper()


def _no_models() -> None:
    raise ModelError("asr model 'nope' is not available; run `chorus models`")


def _pid(_: str) -> int:
    return os.getpid()


def test_supervised_hang_times_out_and_the_batch_goes_on():
    started = time.monotonic()
    results = dict(SupervisedExecutor(1, timeout_s=1.0).map_unordered(_work, ["a", "hang", "b"]))
    assert results["a"] == "A" and results["b"] == "B"
    assert isinstance(results["hang"], ItemTimeout)
    assert "per-item limit of 1.0 s" in str(results["hang"]) and "--timeout" in str(results["hang"])
    assert time.monotonic() - started < 60  # stopped, not waited out


def test_supervised_crash_in_native_code_costs_only_its_item():
    results = dict(SupervisedExecutor(2, timeout_s=0).map_unordered(_work, ["x", "segfault", "y", "z"]))
    assert [results[k] for k in "xyz"] == ["X", "Y", "Z"]
    assert isinstance(results["segfault"], WorkerCrashed)
    assert "SIGSEGV" in str(results["segfault"])


def test_supervised_item_errors_arrive_with_their_fields():
    ((item, error),) = list(SupervisedExecutor(1, timeout_s=5).map_unordered(_work, ["bad"]))
    assert item == "bad" and isinstance(error, MediaError)
    assert error.path == "bad.mp4" and error.problem.startswith("cannot open")


def test_supervised_missing_model_aborts_the_batch():
    executor = SupervisedExecutor(1, timeout_s=5, warmup=_no_models)
    with pytest.raises(ModelError, match="not available"):
        list(executor.map_unordered(_work, ["a", "b"]))


def test_supervised_workers_are_long_lived_and_not_started_for_nothing():
    pids = {pid for _, pid in SupervisedExecutor(1, timeout_s=5).map_unordered(_pid, list("abcd"))}
    assert len(pids) == 1 and os.getpid() not in pids
    assert list(SupervisedExecutor(2, timeout_s=5).map_unordered(_pid, [])) == []


@pytest.mark.slow
def test_supervised_scan_timeout_is_a_per_item_error(tmp_path):
    """A real scan with the real models: the long file is stopped, the short one is read.

    The short file goes first (names sort) so it also bears the worker's first-inference
    start-up; the long one is 200 copies of jfk.flac as WAV (37 min of speech, more than
    the limit even for a fast ASR engine; 70 MB, so the ASR batches give it a batch of its own).
    """
    import numpy as np

    from analyzer.media import decode_audio, discover
    from analyzer.store import Store
    from pipelines.scan import ScanOptions, run_media_stages
    from tests.test_bad_inputs import _write_audio

    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copyfile(shared("audio/coqui-tts-ljspeech/LJ001-0008.flac"), folder / "a short.flac")
    speech = decode_audio(str(shared("audio/openai-whisper/jfk.flac")))
    _write_audio(folder / "long talk.wav", np.tile(speech, 200), "pcm_s16le")
    options = ScanOptions(limits=LimitOptions(item_timeout_s=12.0))
    with Store(tmp_path / "chorus.db") as store:  # the per-media stages of a scan, as scan() runs them
        summary = run_media_stages(discover(str(folder)), store, options, None)
        rows = {row.rel_path: row for row in store.media_rows()}
    assert summary.n_processed == 1
    assert rows["a short.flac"].status == "ok", rows["a short.flac"].error
    assert rows["long talk.wav"].status == "failed"
    assert rows["long talk.wav"].error == (
        "long talk.wav: took longer than the per-item limit of 12.0 s and was stopped"
        " (raise it with --timeout)"
    )


def test_supervised_make_executor_uses_watched_workers_only_with_a_time_limit():
    from pipelines.executors import SerialExecutor, make_executor

    assert isinstance(make_executor(1), SerialExecutor)
    watched = make_executor(1, timeout_s=30, warmup=partial(_pid, "x"))
    assert isinstance(watched, SupervisedExecutor) and watched.timeout_s == 30
