"""docs/plugins.md shows the tutorial package's files verbatim: keep them in sync."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tutorial_shows_the_real_files():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    pkg = ROOT / "plugins_contrib" / "actalker-blink"
    for rel in ("pyproject.toml", "actalker_blink/__init__.py", "actalker_blink/plugin.py"):
        assert (pkg / rel).read_text().strip() in doc, f"docs/plugins.md is out of date with {rel}"
