"""The face lookup page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by selenium, against a real ``pyembed serve`` process, with Chromium's
fake camera playing a ``.y4m`` file made from a held-out face.

The camera frame is 400 x 320 with the face (64 x 64, each pixel repeated 3 x 3, as a sharper
camera would see it) in its centre on grey, so the page's default crop (0.6 of the 320-pixel
centred square, 192 pixels) gives the model the face.
Screenshots go to ``tmp_path`` and, when ``PYEMBED_SCREENSHOT_DIR`` is set, also there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("torch")
PIL = pytest.importorskip("PIL.Image")
selenium = pytest.importorskip("selenium")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_serve import client, enrol, png, search, start_server, stop_server  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    reason = (
        "no headless browser: install Debian's chromium and chromium-driver "
        f"(found chromium={CHROMIUM}, chromedriver={CHROMEDRIVER}); .ci/run installs them"
    )
    print(f"\ntest_serve_browser skipped: {reason}", file=sys.stderr)
    pytest.skip(reason, allow_module_level=True)

WAIT_SECONDS = 60


def write_y4m(path: Path, face: np.ndarray, width: int = 400, height: int = 320) -> None:
    """A two-frame 4:2:0 Y4M video: ``face`` enlarged 3x (pixels repeated), centred on grey."""
    # Chromium decodes Y4M as BT.601 video range (luma 16-235 is black to white): store the
    # face's grey levels in that range, as a real video file would, so the page sees them back.
    video_range = np.round(16 + face.astype(np.float64) * (219 / 255)).astype(np.uint8)
    big = np.kron(video_range, np.ones((3, 3), np.uint8))
    side = big.shape[0]
    luma = np.full((height, width), 126, np.uint8)  # mid grey in video range
    top, left = (height - side) // 2, (width - side) // 2
    luma[top : top + side, left : left + side] = big
    chroma = np.full((height // 2) * (width // 2), 128, np.uint8).tobytes()
    frame = b"FRAME\n" + luma.tobytes() + chroma + chroma
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame + frame)


def browser(camera: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1200,820",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def label_is(driver: webdriver.Chrome, name: str, frames: int = 3) -> str:
    """Wait until the page's label has read ``name`` for ``frames`` answers in a row."""
    seen: list[str] = []

    def steady(d: webdriver.Chrome) -> bool:
        text = d.find_element(By.ID, "distance").text + "|" + d.find_element(By.ID, "label").text
        if not seen or seen[-1] != text:
            seen.append(text)
        recent = seen[-frames:]
        return len(recent) == frames and all(t.endswith("|" + name) for t in recent)

    try:
        WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1).until(steady)
    except Exception as exc:
        status = driver.find_element(By.ID, "camera-status").text
        raise AssertionError(f"label never settled on {name!r}; saw {seen[-6:]}, {status}") from exc
    return seen[-1]


def screenshot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("PYEMBED_SCREENSHOT_DIR"):
        target = Path(os.environ["PYEMBED_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def clearest_stranger(run_dir: Path, tmp_path: Path, images, labels, ada_photos) -> int:
    """The face of a never-trained, never-enrolled person (labels 37 to 39) that the run, with
    Ada's ``ada_photos`` enrolled, rejects by the widest margin (distance minus threshold), found
    through the API on a copy of ``run_dir``. Which strangers a 10-epoch model rejects depends
    on the trained weights, and those differ from machine to machine under the same seed and
    torch version: the first photo of person 39 was rejected on earlier CI machines, but on an
    AMD EPYC (AVX2) it came out 0.119 from a trained person against a threshold of 0.170. The
    page must show the server's answer for a face the model rejects, so the test picks such a
    face and fails if the model rejects none."""
    copy = tmp_path / "probe-run"
    shutil.copytree(run_dir, copy)
    c, gallery = client(copy)
    with gallery:
        assert enrol(c, "Ada", [png(images[i]) for i in ada_photos]).status_code == 200
        rows = np.flatnonzero(labels > 36)
        answers = [search(c, png(images[r])) for r in rows]
    margins = [a["distance"] - a["threshold"] for a in answers]
    best = int(np.argmax(margins))
    assert margins[best] > 0, f"the model rejects none of {len(rows)} strangers: {answers}"
    return int(rows[best])


def test_the_page_names_an_enrolled_person_and_calls_a_stranger_unknown(
    fresh_run, face_arrays, tmp_path
):
    images, labels = face_arrays
    ada = np.flatnonzero(labels == 36)  # never trained on; enrolled below from 5 photos
    stranger = clearest_stranger(fresh_run, tmp_path, images, labels, ada[:5])
    enrol_files = []
    for i in ada[:5]:
        enrol_files.append(tmp_path / f"ada{i}.png")
        enrol_files[-1].write_bytes(png(images[i]))
    ada_upload = tmp_path / "ada-upload.png"
    ada_upload.write_bytes(png(images[ada[8]]))
    ada_camera, stranger_camera = tmp_path / "ada.y4m", tmp_path / "stranger.y4m"
    write_y4m(ada_camera, images[ada[7]])  # a photo of Ada that was not enrolled
    write_y4m(stranger_camera, images[stranger])

    proc, url = start_server(fresh_run)
    try:
        driver = browser(ada_camera)
        try:
            driver.get(url)
            WebDriverWait(driver, WAIT_SECONDS).until(
                lambda d: "camera: live" in d.find_element(By.ID, "camera-status").text
            )
            # The page answers before Ada is enrolled (a name of the run, or "unknown").
            WebDriverWait(driver, WAIT_SECONDS).until(
                lambda d: d.find_element(By.ID, "label").text not in ("", "…")
            )
            driver.find_element(By.ID, "enrol-name").send_keys("Ada")
            driver.find_element(By.ID, "enrol-files").send_keys("\n".join(map(str, enrol_files)))
            driver.find_element(By.ID, "enrol-button").click()
            WebDriverWait(driver, WAIT_SECONDS).until(
                lambda d: "added 5 images of Ada" in d.find_element(By.ID, "enrol-status").text
            )
            label_is(driver, "Ada")
            names = [
                e.get_attribute("data-name")
                for e in driver.find_elements(By.CSS_SELECTOR, ".neighbor-text")
            ]
            assert names[0] == "Ada" and len(names) == 5
            assert "Ada (5)" in driver.find_element(By.ID, "people").text
            screenshot(driver, tmp_path, "serve-enrolled.png")
        finally:
            driver.quit()

        driver = browser(stranger_camera)
        try:
            driver.get(url)
            label_is(driver, "unknown")
            label = driver.find_element(By.ID, "label")
            assert "unknown" in label.get_attribute("class")
            screenshot(driver, tmp_path, "serve-stranger.png")
            # The learn-by-showing loop: enrol the stranger from the camera itself.
            driver.find_element(By.ID, "enrol-name").send_keys("Dee")
            driver.find_element(By.ID, "enrol-button").click()
            WebDriverWait(driver, WAIT_SECONDS).until(
                lambda d: "added 8 images of Dee" in d.find_element(By.ID, "enrol-status").text
            )
            label_is(driver, "Dee")
            # The upload alternative: a photo of Ada that was not enrolled, searched whole. Its
            # nearest neighbour is one of her enrolled photos; whether it also clears the
            # calibrated threshold depends on the trained model (see test_serve's enrolment
            # test), so the label must be hers or "unknown", shown as the page shows either.
            driver.find_element(By.ID, "upload").send_keys(str(ada_upload))
            WebDriverWait(driver, WAIT_SECONDS).until(
                lambda d: "searched ada-upload.png" in d.find_element(By.ID, "camera-status").text
            )
            names = [
                e.get_attribute("data-name")
                for e in driver.find_elements(By.CSS_SELECTOR, ".neighbor-text")
            ]
            assert names[0] == "Ada", names
            label = driver.find_element(By.ID, "label")
            assert label.text in ("Ada", "unknown")
            assert ("unknown" in label.get_attribute("class")) == (label.text == "unknown")
        finally:
            driver.quit()
    finally:
        output = stop_server(proc)
    assert "Traceback" not in output, output
