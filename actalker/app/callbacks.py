"""The page's event handlers. Each takes and returns plain values (file paths, numbers,
text), so tests call them without a browser; a user mistake becomes the status line
``error: <the CLI's one-line message>`` instead of a traceback."""
from __future__ import annotations

import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from actalker.app import engine
from actalker.errors import ActalkerError


class AppState:
    """The loaded model, its controls and the ready example, shared by every request."""

    def __init__(self, pipe, model: str, work_dir=None, face_model: Optional[str] = None):
        from actalker.app.examples import make_example

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401 -- imported here, not first in a worker thread (hung there once)

        self.pipe, self.model, self.face_model = pipe, model, face_model
        self.controls = engine.controls(pipe)
        self.work = Path(work_dir or tempfile.mkdtemp(prefix="actalker-app-"))
        self.example = make_example(pipe, self.work / "example")
        self.lock = threading.Lock()  # one generation at a time: the model is not copied per request
        self.runs = 0

    @property
    def branches(self) -> list[str]:
        return [c.branch for c in self.controls]

    def split(self, values: list) -> tuple[dict, dict, dict]:
        """Page values in layout order -> files, sliders, schedules (branch -> value)."""
        n = len(self.controls)
        files, sliders, schedules = values[:n], values[n:2 * n], values[2 * n:3 * n]
        return (dict(zip(self.branches, files)), dict(zip(self.branches, sliders)),
                dict(zip(self.branches, schedules)))


def load_example(app: AppState) -> list:
    """Portrait and every branch's example file, and the preview: what 'Load the example' fills."""
    ex = app.example
    files = [str(ex.files[b]) if b in ex.files else None for b in app.branches]
    preview, status = show_preview(app, str(ex.portrait))
    return [str(ex.portrait), *files, preview, status]


def show_preview(app: AppState, portrait: Optional[str]):
    """-> (preview image or None, status line)."""
    from actalker.app.preview import region_preview

    if not portrait:
        return None, "upload a portrait or load the example"
    try:
        image, landmarks, boxes = engine.read_portrait(portrait, app.example, app.face_model)
        return region_preview(app.pipe, image, landmarks, boxes), "face found: each branch's region is drawn"
    except ActalkerError as err:
        return None, f"error: {err}"


def _work(app: AppState, portrait, values: list, steps, seed, report, on_partial, result: dict) -> None:
    """The generation itself (a worker thread): inputs, gates, frames, files."""
    files, sliders, schedules = app.split(values)
    with app.lock:
        report(0.02, "reading the inputs (portrait face, each branch's signal)")
        inputs = engine.read_inputs(app.pipe, portrait, files, app.example, app.face_model)
        gates = engine.parse_gates(app.pipe, sliders, schedules, inputs)
        app.runs += 1
        folder = app.work / f"run{app.runs:03d}"
        result["out"] = engine.run_once(app.pipe, app.model, folder, inputs, gates, int(steps) if steps else None,
                                        int(seed or 0), report, on_partial)
        result["frames"] = inputs.num_frames


def generate(app: AppState, portrait, values: list, steps=None, seed=0, progress=None) -> Iterator[tuple]:
    """Yields (status, video, plot, downloads): a status line per stage, the video so far
    after each window, then the outputs (None = unchanged). A user mistake ends with
    ``error: ...``; a bug is raised."""
    messages: queue.Queue = queue.Queue()
    result: dict = {}
    t0 = time.time()

    def run():
        try:
            _work(app, portrait, values, steps, seed, lambda f, text: messages.put((f, text, None)),
                  lambda path: messages.put((None, None, str(path))), result)
        except ActalkerError as err:
            result["error"] = str(err)
        except BaseException as err:  # noqa: BLE001 -- handed to the caller's thread below
            result["bug"] = err
        finally:
            messages.put(None)

    threading.Thread(target=run, daemon=True).start()
    status = ""
    while (item := messages.get()) is not None:
        fraction, text, partial = item
        if partial is not None:  # the video so far: shown while the next windows are made
            yield status, partial, None, None
            continue
        status = text
        if progress is not None:
            progress(fraction, desc=text)
        yield text, None, None, None
    if "bug" in result:
        raise result["bug"]
    if "error" in result:
        yield f"error: {result['error']}", None, None, None
        return
    out = result["out"]
    yield (f"done: {result['frames']} frames in {time.time() - t0:.1f} s ({out['video'].parent})",
           str(out["video"]), str(out["plot"]), [str(out["video"]), str(out["settings"]), str(out["plot"])])
