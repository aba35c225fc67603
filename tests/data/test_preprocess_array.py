"""preprocess --shards N --launcher ...: shards as one array job (submitit)."""
from __future__ import annotations

import json

import pytest

from actalker.cli import main

pytest.importorskip("submitit")


def test_slurm_dry_run_prints_the_array_job(tmp_path, capsys):
    argv = ["preprocess", str(tmp_path), "--out", str(tmp_path / "data"), "--shards", "4", "--launcher", "slurm",
            "--partition", "cpu", "--cpus-per-shard", "16", "--dry-run"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --cpus-per-task=16", "#SBATCH --partition=cpu", "#SBATCH --nodes=1"):
        assert line in text
    assert "gpus" not in text and not (tmp_path / "data").exists()


@pytest.mark.parametrize("argv", [["--dry-run"], ["--shards", "2"], ["--launcher", "slurm", "--shards", "2", "--shard", "0/2"]])
def test_shards_need_a_launcher(tmp_path, capsys, argv):
    assert main(["preprocess", str(tmp_path), "--out", str(tmp_path / "o"), *argv]) == 2
    assert "--shards N (N >= 1) goes with --launcher" in capsys.readouterr().err


@pytest.mark.slow  # two local jobs, each starting MediaPipe: about a minute on 2 busy cores
@pytest.mark.needs_shared
def test_local_array_job_then_merge(tmp_path, face_model_path, capsys):
    from tests.conftest import shared_file
    from actalker.media.audio import read_audio
    from actalker.media.video import read_video, write_video

    frames, fps = read_video(shared_file("media/driving_talk.mp4"), max_frames=60)
    audio = read_audio(shared_file("media/speech_52s.mp3"))[: 30 * 640]
    for k in range(3):
        write_video(tmp_path / "in" / f"p{k}" / "talk.mp4", frames[k * 15:k * 15 + 30], fps, audio=audio)
    out = tmp_path / "data"
    assert main(["preprocess", str(tmp_path / "in"), "--out", str(out), "--face-model", str(face_model_path),
                 "--size", "32", "--shards", "2", "--launcher", "submitit-local", "--workers", "1", "--wait"]) == 0
    assert len(json.loads((out / "shard_jobs.json").read_text())["job_ids"]) == 2
    assert sorted(p.name for p in out.glob("preprocess_report.shard-*")) == [
        "preprocess_report.shard-0-of-2.json", "preprocess_report.shard-1-of-2.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["clips"]) == 3 and "merged 2 shard reports: 3 clips" in capsys.readouterr().out
