"""Run ``process_video`` over many videos, in this process or in a pool of worker processes.

``run_videos`` yields ``(index, status, what)`` for every video as it finishes (pool order
is completion order; callers keep results by index). Status is written, existing,
skipped (the video is unusable: ``what`` is the reason) or failed (an unexpected error in
a folder run: ``what`` is its first line, ``detail`` its traceback). A full disk or a
read-only output stops the whole run, in the pool as in one process.

The pool uses the ``spawn`` start method: MediaPipe is not fork-safe once initialised,
and each worker builds its own landmarker per video anyway (``FaceTracker.track``), so a
video's result does not depend on which worker ran it or on what it ran before.
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterator

from actalker.errors import InputError
from actalker.utils.paths import write_errno

_TRACKER = None  # the worker process's tracker, set by _init_worker


def default_workers() -> int:
    """The cores this process may use (the CPU affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def process_one(video: Path, base: Path, out: Path, tracker, opts, single: bool) -> tuple[str, str, str]:
    """(status, what, detail) for one video; raises for a single-file run or a write fault."""
    from actalker.data.preprocess import process_video

    try:
        status, what = process_video(video, base, out, tracker, opts)
        return status, what, ""
    except InputError as err:
        if single:
            raise
        return "skipped", str(err), ""
    except Exception as err:  # one broken video must not stop a data set of thousands
        if single or write_errno(err) is not None:
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        return "failed", f"{type(err).__name__}: {first}".rstrip(": "), traceback.format_exc()


def _init_worker(tracker) -> None:
    global _TRACKER
    os.environ.setdefault("GLOG_minloglevel", "2")
    _TRACKER = tracker


def _work(video: Path, base: Path, out: Path, opts) -> tuple[str, str, str]:
    return process_one(video, base, out, _TRACKER, opts, single=False)


def run_videos(videos: list[Path], base: Path, out: Path, tracker, opts, workers: int = 1,
               single: bool = False) -> Iterator[tuple[int, str, str, str]]:
    """Yield (index into videos, status, what, detail) for every video."""
    if workers <= 1 or len(videos) <= 1:
        for k, video in enumerate(videos):
            yield (k, *process_one(video, base, out, tracker, opts, single))
        return
    yield from _run_pool(videos, base, out, tracker, opts, min(workers, len(videos)))


def _run_pool(videos, base, out, tracker, opts, workers: int) -> Iterator[tuple[int, str, str, str]]:
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(tracker,))
    try:
        futures = {pool.submit(_work, video, base, out, opts): k for k, video in enumerate(videos)}
        for fut in as_completed(futures):
            try:
                status, what, detail = fut.result()
            except BrokenProcessPool as err:  # a worker died (killed, out of memory, a crash in C)
                status, what, detail = "failed", f"worker process died while preprocessing ({err})", ""
            yield (futures[fut], status, what, detail)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
