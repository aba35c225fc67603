"""`actalker app`: a local web app (Gradio) over the pipeline.

engine.py    what the page does, without Gradio (read inputs, gates, generate, save)
examples.py  the ready example: the demo's synthetic inputs written as files
preview.py   the face crop with each branch's region drawn on it
plots.py     the per-region control plot (signal against measured openness)
callbacks.py the page's event handlers (one-line errors shown in the page)
layout.py    the page itself, its controls generated from the model's branches
"""
