"""`actalker app`: the local web app (Gradio; ``pip install actalker[app]``).

    actalker app [--model DIR] [--host 127.0.0.1] [--port 7860] [--face-model PATH]

Without --model it serves the embedded demo model with a ready example, so it works
offline on first run. It binds to 127.0.0.1 unless --host says otherwise.
"""
from __future__ import annotations

import os

from actalker.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("app", help="a local web app: inputs, live gates and schedules, region preview",
                              description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the embedded demo model)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--face-model", default=None, metavar="PATH",
                   help="MediaPipe face_landmarker .task for uploaded portraits (default: $ACTALKER_FACE_MODEL)")
    p.add_argument("--work-dir", default=None, metavar="DIR", help="where results go (default: a temporary folder)")
    p.set_defaults(func=run)


def make_app(model=None, face_model=None, work_dir=None):
    """-> (AppState, gr.Blocks): the model loaded, the example written, the page built."""
    from actalker.app.callbacks import AppState
    from actalker.app.layout import build
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.demo.model import DEMO_MODEL_DIR, demo_model_present, load_demo_pipeline

    if model is None:
        if not demo_model_present():
            raise InputError(f"no embedded demo model at {DEMO_MODEL_DIR}; pass --model DIR")
        pipe, name = load_demo_pipeline(), "embedded demo model"
    else:
        pipe, name = ACTalkerPipeline.from_pretrained(model), str(model)
    pipe.progress = False
    state = AppState(pipe, name, work_dir, face_model)
    return state, build(state)


def run(args) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError("the app needs Gradio: pip install 'actalker[app]'") from None
    state, page = make_app(args.model, args.face_model, args.work_dir)
    print(f"actalker app: {state.model} on http://{args.host}:{args.port}")
    page.queue().launch(server_name=args.host, server_port=args.port, share=False, ssr_mode=False,
                        allowed_paths=[str(state.work)], footer_links=[])
    return 0
