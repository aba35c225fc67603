"""The app's callbacks without a browser: controls from the registry, the example, the
region preview, generation with a stage per status line, outputs, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from actalker.demo.model import demo_model_present

pytestmark = [
    pytest.mark.skipif(not demo_model_present(), reason="needs the embedded demo model (actalker/assets/demo_model)"),
    # generation runs in a worker thread (the page's way): a hang there (once: an import in
    # that thread) fails this test with every thread's stack instead of stalling the run
    pytest.mark.timeout(1200, method="thread"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from actalker.app.callbacks import AppState
    from actalker.demo.model import load_demo_pipeline

    pipe = load_demo_pipeline()
    pipe.progress = False
    return AppState(pipe, "demo", tmp_path_factory.mktemp("app"))


def test_controls_come_from_the_plugin_registry(app):
    from actalker.plugins import load_registry

    reg = load_registry()
    for c in app.controls:
        spec = reg.modality(c.modality)
        assert c.description == spec.description and c.flag == spec.cli_flag
        assert f"--{spec.cli_flag}" in c.label and c.region in c.label


def test_example_fills_every_input_and_draws_the_regions(app):
    portrait, *rest = __import__("actalker.app.callbacks", fromlist=["x"]).load_example(app)
    files, preview, status = rest[:-2], rest[-2], rest[-1]
    assert portrait.endswith("portrait.png") and all(files) and len(files) == len(app.controls)
    assert preview.ndim == 3 and preview.shape[0] >= 128 and status.startswith("face found")
    colours = {tuple(p) for p in preview.reshape(-1, 3)[:: 97]}
    assert len(colours) > 50  # an image, not a blank


def _values(app, files, gates=None, schedules=None):
    gates, schedules = gates or {}, schedules or {}
    return ([files.get(b) for b in app.branches] + [gates.get(b, 1.0) for b in app.branches]
            + [schedules.get(b, "") for b in app.branches])


def test_generate_reports_every_stage_and_writes_video_settings_and_plot(app):
    from actalker.app.callbacks import generate, load_example
    from actalker.media import read_video

    portrait, *files = load_example(app)[:-2]
    branch = app.branches[-1]
    seen = []
    outs = list(generate(app, portrait, _values(app, dict(zip(app.branches, files)), schedules={branch: "0@0s,1@1s"}),
                         steps=1, seed=0, progress=lambda f, desc: seen.append((f, desc))))
    status = [o[0] for o in outs]
    assert any("reading the inputs" in s for s in status) and any("denoising window by window" in s for s in status)
    assert any(s.startswith("window 1/") for s in status) and any("writing" in s for s in status)
    assert status[-1].startswith("done: 50 frames")
    partial = [o[1] for o in outs[:-1] if o[1] is not None]  # the video so far, after each window
    assert len(partial) >= 2 and len(read_video(partial[0])[0]) < len(read_video(partial[-1])[0]) <= 50
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)  # progress only moves forward
    _, video, plot, downloads = outs[-1]
    frames, _ = read_video(video)
    assert frames.shape[0] == 50 and plot.endswith(".png") and len(downloads) == 3
    settings = json.loads(open(downloads[1]).read())
    assert settings["gates"][branch]["schedule"] == "0@0s,1@1s" and settings["example"] is True


@pytest.mark.parametrize("case, message", [
    ("schedule", "error: gate {b}: '1@2x': expected VALUE@TIME"),
    ("no_portrait", "error: no portrait given"),
    ("not_image", "error: cannot read image"),
    ("no_signal", "error: no control signal given"),
])
def test_bad_input_is_the_clis_one_line_message(app, tmp_path, case, message):
    from actalker.app.callbacks import generate, load_example

    portrait, *files = load_example(app)[:-2]
    files = dict(zip(app.branches, files))
    b = app.branches[-1]
    schedules = {}
    if case == "schedule":
        schedules = {b: "0@0s,1@2x"}
    elif case == "no_portrait":
        portrait = None
    elif case == "not_image":
        portrait = tmp_path / "x.png"
        portrait.write_text("hello")
        portrait = str(portrait)
    else:
        files = {}
    last = list(generate(app, portrait, _values(app, files, schedules=schedules), steps=1))[-1]
    assert last[0].startswith(message.format(b=b)) and "\n" not in last[0] and last[1] is None


def test_example_inputs_are_recognised_by_content_not_name(app, tmp_path):
    import shutil

    from actalker.app import engine

    ex = app.example
    copy = tmp_path / "renamed.png"
    shutil.copy(ex.portrait, copy)
    image, lm, bx = engine.read_portrait(str(copy), ex)
    assert np.array_equal(lm, ex.landmarks) and np.array_equal(bx, ex.boxes)
