"""MediaPipe's own C++ log lines (absl/glog, TFLite) never reach the user's terminal."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import numpy as np, sys
from PIL import Image
from actalker.media.face import FaceTracker
t = FaceTracker(sys.argv[1])
img = np.asarray(Image.open(sys.argv[2]).convert("RGB").resize((256, 256)))
t.detect_image(img, "portrait")
t.track(np.repeat(img[None], 3, 0), 25.0)
print("ok", file=sys.stderr)
"""


@pytest.mark.needs_shared
def test_mediapipe_prints_nothing(face_model_path, portrait_path):
    pytest.importorskip("mediapipe")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(face_model_path), str(portrait_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["ok"], proc.stderr  # Python's own stderr still works
    assert proc.stdout == ""
