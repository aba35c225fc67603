"""The app in a real browser: headless Chromium (Debian's package, installed by `make
install` when possible) loads the page, fills the example, moves a gate, generates and
finds a playable video; the page's screenshot goes to docs/images/app.png. Marked slow:
run it with `make test-slow ARGS=tests/app/test_browser.py`."""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from actalker.demo.model import demo_model_present

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "app.png"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1500")

pytestmark = [
    pytest.mark.slow,  # a minute or more on 2 loaded cores (make test-slow); test_callbacks.py covers the handlers
    pytest.mark.skipif(not (CHROMIUM.is_file() and DRIVER.is_file()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
    pytest.mark.skipif(not demo_model_present(), reason="needs the embedded demo model"),
    pytest.mark.timeout(1800, method="thread"),  # a hang fails with every thread's stack, not a stuck run
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("gradio", reason="needs the app extra: pip install 'actalker[app]'")
    from actalker.commands.app import make_app

    state, page = make_app(work_dir=tmp_path_factory.mktemp("app"))
    port = _free_port()
    page.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False,
                        allowed_paths=[str(state.work)], footer_links=[], quiet=True)
    yield f"http://127.0.0.1:{port}/", state
    page.close()


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="actalker-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)  # never a downloaded browser
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _status(driver) -> str:
    return driver.execute_script("const t = document.querySelector('#status textarea'); return t ? t.value : '';")


def _wait(driver, predicate, timeout: float, what: str):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; status: {_status(driver)!r}")


def _set_slider(driver, elem_id: str, value) -> None:
    """As dragging does: the range input's value, then its input and change events."""
    driver.execute_script(
        "const r = document.querySelector(arguments[0]); r.value = arguments[1];"
        "r.dispatchEvent(new Event('input', {bubbles: true})); r.dispatchEvent(new Event('change', {bubbles: true}));",
        f"#{elem_id} input[type=range]", str(value))


def test_example_gate_generate_playable_video(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, state = server
    browser.get(url)
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#example"), 30, "the page")
    browser.find_element(By.CSS_SELECTOR, "#example").click()
    _wait(browser, lambda: _status(browser).startswith("face found"), 30, "the example's preview")
    branch = state.controls[-1].branch
    gate = browser.find_element(By.CSS_SELECTOR, f"#gate-{branch} input[type=range]")
    before = gate.get_attribute("value")
    gate.click()
    for _ in range(6):
        gate.send_keys(Keys.ARROW_LEFT)
    _wait(browser, lambda: gate.get_attribute("value") != before, 5, "the gate slider to move")
    _set_slider(browser, "steps", 1)
    browser.find_element(By.CSS_SELECTOR, "#generate").click()
    _wait(browser, lambda: _status(browser).startswith(("done", "error")), 120, "generation")
    assert _status(browser).startswith("done: 50 frames"), _status(browser)
    settings = json.loads((state.work / "run001" / "result.json").read_text())
    assert settings["steps"] == 1 and settings["gates"][branch] == pytest.approx(float(gate.get_attribute("value")))
    assert settings["gates"][branch] < 1.0  # the moved gate reached the pipeline
    video = _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#result video"), 20, "the video element")[0]
    ready = _wait(browser, lambda: browser.execute_script(
        "const v = arguments[0]; return v.readyState >= 2 && v.duration > 0 ? [v.readyState, v.duration] : null;",
        video), 20, "a playable video")
    assert ready[1] == pytest.approx(2.0, abs=0.2)  # 50 frames at 25 fps
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
