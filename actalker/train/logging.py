"""Run logs: one JSON object per line (``log.jsonl``), TensorBoard scalars, a tqdm bar.

Only the main process writes. The jsonl file is appended to, so a resumed run continues
the same log (entries carry their step, so a reader can drop any repeats after a kill).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional


class RunLogger:
    def __init__(self, output_dir, enabled: bool, total_steps: int, start_step: int = 0,
                 tensorboard: bool = True, progress: bool = True):
        self.enabled = enabled
        self.path = Path(output_dir) / "log.jsonl"
        self._tb = None
        self._bar = None
        self._t0 = time.time()
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(output_dir) / "tensorboard"))
            except ImportError:  # tensorboard is optional at run time
                self._tb = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True)

    def log(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        clean = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in values.items()}
        record = {"step": step, "time": round(time.time() - self._t0, 3), **clean}
        line = json.dumps(record) + "\n"
        try:
            with open(self.path, "a") as f:
                f.write(line)
        except OSError as err:  # a full disk: say which file, not a traceback
            from actalker.utils.paths import output_error, write_errno

            if write_errno(err) is None:
                raise
            raise output_error(err, self.path, "the training log", needed=len(line)) from None
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, float) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)
            self._tb.flush()

    def progress(self, step: int, loss: Optional[float] = None) -> None:
        if self._bar is not None:
            self._bar.n = step
            if loss is not None:
                self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self._bar.refresh()

    def write(self, message: str) -> None:
        if self.enabled:
            if self._bar is not None:
                self._bar.write(message)
            else:
                print(message, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
