"""python -m actalker.eval.curve: metrics of several eval results against their x values."""
import json

from actalker.eval.curve import main


def _result(path, eyes):
    stats = lambda m: {"mean": m, "lo": m - 0.1, "hi": m + 0.1, "n": 8}  # noqa: E731
    path.write_text(json.dumps({"settings": [{"metrics": {"mouth_audio": stats(0.8), "eyes_motion": stats(eyes)}}]}))
    return path


def test_table_sorted_by_x_and_plot_written(tmp_path, capsys):
    a, b = _result(tmp_path / "a.json", 0.66), _result(tmp_path / "b.json", 0.27)
    assert main([f"{a}@2000", f"{b}@1000", "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 1000") or line.startswith("| 2000")]
    assert rows == ["| 1000 | +0.80 [+0.70, +0.90] | +0.27 [+0.17, +0.37] |",
                    "| 2000 | +0.80 [+0.70, +0.90] | +0.66 [+0.56, +0.76] |"]
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_one_line_errors(tmp_path, capsys):
    a = _result(tmp_path / "a.json", 0.5)
    assert main([str(a), "--out", str(tmp_path / "c.png")]) == 2
    assert "expected RESULT.json@X" in capsys.readouterr().err
    assert main([f"{a}@1", "--metrics", "eyes_blink", "--out", str(tmp_path / "c.png")]) == 2
    assert "has no setting 0 with metric 'eyes_blink'" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
