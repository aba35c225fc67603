"""The page: inputs from the model's branches (each modality plugin's flag and description),
a gate slider and an optional schedule per branch, the region preview, Generate with
progress, and the result video, control plot and downloads."""
from __future__ import annotations

from actalker.app import callbacks

INTRO = ("# ACTalker\nA portrait and any mix of control signals -> a talking head. Each branch steers its own "
         "face region (drawn on the preview); its gate scales it: the slider, or a schedule of keyframes "
         "VALUE@TIME over time (e.g. `0@0s, 1@2s, 0.3@4s`: TIME in seconds or frames `50f`, linear between).")


def _keep(value):
    import gradio as gr

    return gr.update() if value is None else value


def _branch_inputs(app) -> list:
    import gradio as gr

    files = []
    for c in app.controls:
        files.append(gr.File(label=c.label, type="filepath", elem_id=f"input-{c.branch}"))
        gr.Markdown(f"<small>{c.description or c.modality}</small>")
    return files


def _gate_inputs(app) -> tuple[list, list]:
    import gradio as gr

    sliders, schedules = [], []
    for c in app.controls:
        with gr.Row():
            sliders.append(gr.Slider(0.0, 2.0, value=c.default_gate, step=0.05, label=f"gate {c.branch}",
                                     elem_id=f"gate-{c.branch}"))
            schedules.append(gr.Textbox(label=f"schedule {c.branch} (optional)", placeholder="0@0s,1@2s,0.3@4s",
                                        elem_id=f"schedule-{c.branch}"))
    return sliders, schedules


def build(app):
    """-> gr.Blocks bound to ``app`` (callbacks.AppState)."""
    import gradio as gr

    steps_default = int(app.pipe.config.sampling.steps)
    with gr.Blocks(title="ACTalker", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                portrait = gr.Image(label="portrait", type="filepath", elem_id="portrait", height=256)
                files = _branch_inputs(app)
                example = gr.Button("Load the example", elem_id="example")
            with gr.Column():
                preview = gr.Image(label="face crop and each branch's region", interactive=False, elem_id="preview",
                                   height=256)
                sliders, schedules = _gate_inputs(app)
                with gr.Row():
                    steps = gr.Slider(1, 50, value=steps_default, step=1, label="denoising steps", elem_id="steps")
                    seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
                run = gr.Button("Generate", variant="primary", elem_id="generate")
        status = gr.Textbox(label="status", interactive=False, elem_id="status")
        with gr.Row():
            video = gr.Video(label="result", elem_id="result", autoplay=False, height=320)
            plot = gr.Image(label="control: signal vs measured openness", interactive=False, elem_id="plot")
        downloads = gr.File(label="downloads (video, settings json, control plot)", file_count="multiple",
                            elem_id="downloads")
        _wire(app, portrait, files, sliders, schedules, steps, seed, example, preview, run, status, video, plot,
              downloads)
    return page


def _wire(app, portrait, files, sliders, schedules, steps, seed, example, preview, run, status, video, plot,
          downloads) -> None:
    import gradio as gr

    example.click(lambda: callbacks.load_example(app), None, [portrait, *files, preview, status])
    portrait.upload(lambda p: callbacks.show_preview(app, p), portrait, [preview, status])

    def on_generate(portrait_path, *values, progress=gr.Progress()):
        *page_values, n_steps, n_seed = values
        for out in callbacks.generate(app, portrait_path, list(page_values), n_steps, n_seed, progress):
            yield tuple(_keep(v) for v in out)

    run.click(on_generate, [portrait, *files, *sliders, *schedules, steps, seed], [status, video, plot, downloads])
