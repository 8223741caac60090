"""``pyembed serve``: the JSON API in-process (FastAPI's test client), persistence, bad input, and
the real server process. The real-browser test is ``test_serve_browser.py``."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("torch")
PIL = pytest.importorskip("PIL.Image")

from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from pyembed.cli import main  # noqa: E402
from pyembed.serve import Gallery, create_app  # noqa: E402

STRANGERS = 36  # as conftest.STRANGERS


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PIL.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def client(run_dir, **kwargs) -> tuple[TestClient, Gallery]:
    gallery = Gallery(run_dir, exact=kwargs.pop("exact", False))
    return TestClient(create_app(gallery, **kwargs)), gallery


def search(c: TestClient, image: bytes, **params):
    r = c.post("/api/search", params=params, files={"image": ("face.png", image, "image/png")})
    assert r.status_code == 200, r.text
    return r.json()


def enrol(c: TestClient, name: str, images: list[bytes]):
    files = [("images", (f"{i}.png", b, "image/png")) for i, b in enumerate(images)]
    return c.post("/api/enrol", data={"name": name}, files=files)


@pytest.fixture
def stranger_files(face_arrays, tmp_path):
    """Images of people 36 and 37 (never trained on) as PNG files, with their labels."""
    images, labels = face_arrays
    rows = np.flatnonzero(labels >= STRANGERS)[:20]
    paths = []
    for r in rows:
        path = tmp_path / f"face{r}.png"
        path.write_bytes(png(images[r]))
        paths.append(path)
    return paths, labels[rows]


@pytest.mark.parametrize("mode", ["graph", "exact"])
def test_search_equals_pyembed_query_on_the_same_images(fresh_run, stranger_files, mode):
    paths, _ = stranger_files
    args = ["query", str(fresh_run), *map(str, paths[:6]), "-k", "4", "--search", mode]
    result = CliRunner().invoke(main, [*args, "--crop", "0.8", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    c, _ = client(fresh_run, exact=mode == "exact")
    for q, path in enumerate(paths[:6]):
        answer = search(c, path.read_bytes(), k=4, crop=0.8)
        expected = [r for r in rows if r["query"] == q]
        assert [n["id"] for n in answer["neighbors"]] == [r["id"] for r in expected]
        assert [n["name"] for n in answer["neighbors"]] == [r["label"] for r in expected]
        np.testing.assert_allclose(
            [n["distance"] for n in answer["neighbors"]],
            [r["distance"] for r in expected],
            rtol=1e-6,
        )


def test_query_of_an_image_file_equals_query_of_the_same_array(fresh_run, face_arrays, tmp_path):
    images, _ = face_arrays
    arrays = tmp_path / "q.npz"
    np.savez(arrays, images=images[-3:])
    files = []
    for i, image in enumerate(images[-3:]):
        files.append(tmp_path / f"{i}.png")
        files[-1].write_bytes(png(image))
    by_array = CliRunner().invoke(main, ["query", str(fresh_run), str(arrays), "--format", "json"])
    by_file = CliRunner().invoke(
        main, ["query", str(fresh_run), *map(str, files), "--format", "json"]
    )
    assert by_array.exit_code == 0 and by_file.exit_code == 0, by_array.output + by_file.output
    assert json.loads(by_array.stdout) == json.loads(by_file.stdout)


def test_enrol_then_search_finds_the_new_name_and_strangers_stay_unknown(fresh_run, face_arrays):
    images, labels = face_arrays
    c, gallery = client(fresh_run)
    info = c.get("/api/info").json()
    assert info["threshold_source"] == "calibrated" and info["entries"] == 360
    ada = np.flatnonzero(labels == 36)
    before = [search(c, png(images[r]))["label"] for r in ada[5:]]
    r = enrol(c, "Ada", [png(images[i]) for i in ada[:5]])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Ada" and len(body["entries"]) == 5 and body["gallery_size"] == 365
    assert [e["id"] for e in body["entries"]] == list(range(360, 365))
    after = [search(c, png(images[r])) for r in ada[5:]]
    # Before enrolment nobody in the gallery is Ada; after it, her held-out photos find her:
    # every one has an enrolled photo of hers as its nearest neighbour, and (most of) them fall
    # within the run's calibrated threshold. Which of a new person's photos clear a threshold
    # calibrated on the training identities depends on the trained model: with torch 2.15.0
    # the 10-epoch model puts one of the five at 0.185 against a threshold of 0.151 (its nearest
    # neighbour still Ada); in earlier CI runs all five cleared it.
    assert "Ada" not in before
    assert all(a["neighbors"][0]["name"] == "Ada" for a in after), after
    named = [a["label"] for a in after]
    assert set(named) <= {"Ada", "unknown"} and named.count("Ada") >= 4, after
    assert all(a["known"] == (a["label"] == "Ada") for a in after)
    assert all(a["known"] == (a["distance"] <= a["threshold"]) for a in after)
    people = {p["name"]: p for p in c.get("/api/people").json()}
    assert people["Ada"] == {"name": "Ada", "entries": 5, "enrolled": 5}
    thumb = c.get(body["entries"][0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(PIL.open(io.BytesIO(thumb.content))), images[ada[0]])
    run_thumb = c.get("/api/gallery/0/thumbnail")
    assert np.array_equal(np.asarray(PIL.open(io.BytesIO(run_thumb.content))), images[0])


def test_enrolments_survive_a_restart_and_deletes_too(fresh_run, face_arrays):
    images, labels = face_arrays
    c, gallery = client(fresh_run)
    bea = np.flatnonzero(labels == 37)
    assert enrol(c, "Bea", [png(images[i]) for i in bea[:4]]).status_code == 200
    first = search(c, png(images[bea[6]]), k=3)
    gallery.close()  # the server stops
    c2, gallery2 = client(fresh_run)  # a new server on the same run directory
    assert len(gallery2) == 364
    again = search(c2, png(images[bea[6]]), k=3)
    assert again["neighbors"] == first["neighbors"] and again["label"] == first["label"]
    deleted = c2.delete("/api/gallery/361")
    assert deleted.status_code == 200 and deleted.json()["deleted"]["name"] == "Bea"
    gallery2.close()
    c3, gallery3 = client(fresh_run)
    assert len(gallery3) == 363 and 361 not in gallery3.index
    assert c3.get("/api/gallery/361/thumbnail").status_code == 404
    # ids are never reused: the next enrolment starts after the largest id ever given
    r = enrol(c3, "Bea", [png(images[bea[5]])])
    assert [e["id"] for e in r.json()["entries"]] == [364]
    listed = c3.get("/api/gallery", params={"source": "enrolled"}).json()
    assert [e["id"] for e in listed["entries"]] == [360, 362, 363, 364]


def test_an_enrolment_cut_short_by_a_crash_is_dropped_on_open(fresh_run, face_arrays):
    images, labels = face_arrays
    with Gallery(fresh_run) as gallery:
        # The index got two new faces saved, but the process died before entries.json was
        # written.
        index = gallery.index
        index.add(np.zeros((2, index.dim), np.float32), ids=np.array([500, 501]))
        index.save(fresh_run / "gallery" / "index.nswg")
    with Gallery(fresh_run) as reopened:
        assert len(reopened) == 360 and len(reopened.index) == 360 and 500 not in reopened.index
        assert reopened.entries()[-1].id == 359


def test_a_deletion_cut_short_by_a_crash_is_finished_on_open(fresh_run):
    with Gallery(fresh_run) as gallery:
        # The index without entry 7 was saved, but the process died before entries.json was.
        keep = np.array([i for i in range(360) if i != 7], dtype=np.int64)
        smaller = Gallery._rebuilt(gallery.index, keep)
        smaller.save(fresh_run / "gallery" / "index.nswg")
    with Gallery(fresh_run) as reopened:
        assert len(reopened) == 359 and 7 not in {e.id for e in reopened.entries()}
    entries = json.loads((fresh_run / "gallery" / "entries.json").read_text())["entries"]
    assert len(entries) == 359


def test_a_second_gallery_on_the_same_folder_is_refused_until_the_first_closes(fresh_run):
    from pyembed.serve.gallery import GalleryLockedError

    first = Gallery(fresh_run)
    with pytest.raises(GalleryLockedError, match="another pyembed serve"):
        Gallery(fresh_run, model=first.model)
    first.close()
    with Gallery(fresh_run, model=first.model) as second:
        assert len(second) == 360


def test_a_retrained_run_gets_its_gallery_rebuilt_with_the_enrolled_faces_embedded_again(
    fresh_run, face_arrays
):
    from pyembed.train.run_dir import load_run

    images, labels = face_arrays
    cy = np.flatnonzero(labels == 38)[:3]
    with Gallery(fresh_run) as gallery:
        inputs = images[cy]
        gallery.enrol("Cy", inputs, gallery.model.embed(inputs))
        old = gallery.index.get_vectors([360, 361, 362])
    data = load_run(fresh_run).metadata["data"]["path"]
    args = ["train", "faces", "--data", data, "--run-dir", str(fresh_run), "--overwrite"]
    args += ["--epochs", "1", "--seed", "5", "--test-identities", "6", "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with Gallery(fresh_run) as rebuilt:
        assert [e.id for e in rebuilt.entries() if e.name == "Cy"] == [360, 361, 362]
        new = rebuilt.index.get_vectors([360, 361, 362])
        np.testing.assert_allclose(new, rebuilt.model.embed(inputs), rtol=1e-5, atol=1e-6)
        assert not np.allclose(new, old)  # embedded by the new model
        run = load_run(fresh_run)
        np.testing.assert_array_equal(
            rebuilt.index.get_vectors(np.arange(360)), run.arrays["embeddings"]
        )


def _snapshot(run_dir):
    folder = run_dir / "gallery"
    return (
        (folder / "index.nswg").read_bytes(),
        (folder / "entries.json").read_bytes(),
        sorted(p.name for p in (folder / "thumbs").iterdir()),
    )


BAD_REQUESTS = [
    # (description, request kwargs, status, words in the message)
    (
        "non-image",
        dict(files={"image": ("a.png", b"this is not an image", "image/png")}),
        400,
        "not an image",
    ),
    ("empty file", dict(files={"image": ("a.png", b"", "image/png")}), 400, "empty"),
    (
        "truncated png",
        "TRUNCATED",
        400,
        "corrupt or truncated",
    ),
    ("empty body", dict(content=b"", headers={"content-type": "multipart/form-data"}), 400, ""),
    ("no image field", dict(files={"other": ("a.png", b"x", "image/png")}), 422, "image"),
    ("json body", dict(json={"image": "x"}), 415, "multipart/form-data"),
    (
        "text part",
        dict(files={"image": ("a.txt", b"hello", "text/plain")}),
        415,
        "not an image type",
    ),
    ("oversized", "OVERSIZED", 413, "larger than"),
    ("oversized streamed", "STREAMED", 413, "larger than"),
    ("k zero", dict(params={"k": 0}), 422, "k"),
    ("k too large", dict(params={"k": 101}), 422, "k"),
    ("crop zero", dict(params={"crop": 0}), 422, "crop"),
    ("crop text", dict(params={"crop": "wide"}), 422, "crop"),
]


@pytest.mark.parametrize(
    "what,request_kwargs,status,words", BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS]
)
def test_bad_searches_are_4xx_with_a_message_and_change_nothing(
    fresh_run, face_arrays, what, request_kwargs, status, words
):
    images, _ = face_arrays
    c, gallery = client(fresh_run, max_upload_bytes=200_000)
    before = _snapshot(fresh_run)
    good = png(images[0])
    if request_kwargs == "TRUNCATED":
        request_kwargs = dict(files={"image": ("a.png", good[: len(good) // 2], "image/png")})
    elif request_kwargs == "OVERSIZED":
        request_kwargs = dict(files={"image": ("a.png", b"\0" * 300_000, "image/png")})
    elif request_kwargs == "STREAMED":

        def chunks():
            yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n'
            for _ in range(40):
                yield b"\0" * 10_000

        request_kwargs = dict(
            content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
    elif (
        "files" not in request_kwargs
        and "content" not in request_kwargs
        and "json" not in request_kwargs
    ):
        request_kwargs = dict(request_kwargs, files={"image": ("a.png", good, "image/png")})
    r = c.post("/api/search", **request_kwargs)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail and words in detail
    assert _snapshot(fresh_run) == before and len(gallery) == 360
    assert search(c, good)["neighbors"][0]["id"] == 0  # still serving


BAD_ENROLMENTS = [
    ("empty name", {"name": "  "}, "GOOD", 400, "empty"),
    ("reserved name", {"name": "Unknown"}, "GOOD", 400, "unknown"),
    ("control character", {"name": "a\x07b"}, "GOOD", 400, "control"),
    ("long name", {"name": "x" * 81}, "GOOD", 422, "at most 80"),
    ("no name", {}, "GOOD", 422, "name"),
    ("no files at all", {"name": "Cy"}, [], 415, "multipart/form-data"),
    ("no images field", {"name": "Cy"}, "OTHER", 422, "images"),
    ("one bad image of two", {"name": "Cy"}, "ONE_BAD", 400, "images[1]"),
    ("too many images", {"name": "Cy"}, "MANY", 400, "at most 3"),
]


@pytest.mark.parametrize(
    "what,data,files,status,words", BAD_ENROLMENTS, ids=[r[0] for r in BAD_ENROLMENTS]
)
def test_bad_enrolments_are_4xx_and_add_nothing(
    fresh_run, face_arrays, what, data, files, status, words
):
    images, _ = face_arrays
    c, gallery = client(fresh_run, max_images=3)
    before = _snapshot(fresh_run)
    good = ("images", ("a.png", png(images[370]), "image/png"))
    if files == "GOOD":
        files = [good]
    elif files == "ONE_BAD":
        files = [good, ("images", ("b.png", b"GIF89a broken", "image/gif"))]
    elif files == "OTHER":
        files = [("other", ("a.png", png(images[370]), "image/png"))]
    elif files == "MANY":
        files = [good] * 4
    r = c.post("/api/enrol", data=data, files=files or None)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert _snapshot(fresh_run) == before and len(gallery) == 360


def test_unknown_ids_are_404_and_an_empty_gallery_is_409(fresh_run, face_arrays):
    images, _ = face_arrays
    c, gallery = client(fresh_run)
    for call in (
        lambda: c.delete("/api/gallery/9999"),
        lambda: c.get("/api/gallery/9999/thumbnail"),
        lambda: c.delete("/api/gallery/-1"),
        lambda: c.get(f"/api/gallery/{2**70}/thumbnail"),
    ):
        r = call()
        assert r.status_code in (404, 422), r.text
        assert isinstance(r.json()["detail"], str)
    assert c.get("/api/gallery/abc/thumbnail").status_code == 422
    assert len(gallery) == 360
    for id in range(360):
        gallery.delete(id)
    r = c.post("/api/search", files={"image": ("a.png", png(images[0]), "image/png")})
    assert r.status_code == 409 and "empty" in r.json()["detail"]
    assert c.get("/api/info").json()["threshold_source"] == "none"


def test_the_openapi_schema_describes_the_api(fresh_run):
    c, _ = client(fresh_run)
    schema = c.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) >= {
        "/api/info",
        "/api/search",
        "/api/enrol",
        "/api/gallery",
        "/api/people",
        "/api/gallery/{id}",
        "/api/gallery/{id}/thumbnail",
    }
    assert "post" in paths["/api/search"] and "delete" in paths["/api/gallery/{id}"]
    assert "delete" in paths["/api/people/{name}"]
    for path, codes in (
        ("/api/search", {"400", "409", "413", "415", "422"}),
        ("/api/enrol", {"400", "413", "415", "422"}),
    ):
        post = paths[path]["post"]
        assert "multipart/form-data" in post["requestBody"]["content"]
        assert codes <= set(post["responses"])
    assert "404" in paths["/api/gallery/{id}"]["delete"]["responses"]
    search_body = paths["/api/search"]["post"]["requestBody"]["content"]["multipart/form-data"]
    ref = search_body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][ref]["required"] == ["image"]
    page = c.get("/")
    assert page.status_code == 200 and "getUserMedia" not in page.text  # the script is separate
    assert "getUserMedia" in c.get("/static/app.js").text


def test_serve_binds_to_localhost_unless_told():
    from pyembed.cli.serve import serve

    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_dir, *extra: str) -> tuple[subprocess.Popen, str]:
    """``pyembed serve`` as a real process on a free port; waits until it answers."""
    port = _free_port()
    cmd = [sys.executable, "-m", "pyembed", "serve", str(run_dir), "--port", str(port), *extra]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.communicate()[0].decode()}")
        try:
            with urllib.request.urlopen(url + "/api/info", timeout=2):
                return proc, url
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    proc.kill()
    proc.communicate()
    raise AssertionError("the server did not answer within 120 s")


def test_the_real_server_process_answers_refuses_oversized_bodies_and_keeps_serving(
    fresh_run, face_arrays
):
    images, _ = face_arrays
    proc, url = start_server(fresh_run, "--max-upload-mb", "0.1")
    try:
        boundary = "xyz"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()

        def post(data: bytes):
            body = head + data + f"\r\n--{boundary}--\r\n".encode()
            req = urllib.request.Request(
                url + "/api/search",
                data=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert post(b"\0" * 200_000)[0] == 413
        assert post(b"junk")[0] == 400
        status, answer = post(png(images[3]))
        assert status == 200 and answer["neighbors"][0]["id"] == 3
        assert answer["label"] == "0"
        second = CliRunner().invoke(main, ["serve", str(fresh_run), "--port", "0"])
        assert second.exit_code == 1 and "another pyembed serve" in second.output
        assert post(png(images[4]))[0] == 200  # the first server is untouched
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen) -> str:
    """Stop a :func:`start_server` process; its output."""
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out.decode(errors="replace")


@pytest.mark.parametrize(
    "args,code,words",
    [
        (["{empty}"], 1, "is not a run directory"),
        (["{run}", "--threshold", "-1"], 2, "--threshold"),
        (["{run}", "--crop", "0"], 2, "--crop"),
        (["{run}", "--k", "101"], 2, "--k"),
        (["{run}", "--search", "exact", "--ef", "8"], 2, "--ef applies only"),
        (["{run}", "--port", "70000"], 2, "--port"),
    ],
)
def test_serve_command_errors_are_one_line(served_run, tmp_path, args, code, words):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["serve", *(a.format(empty=empty, run=served_run) for a in args)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == code, result.output
    assert words in result.output and "Traceback" not in result.output


@pytest.mark.timeout(120)
def test_searches_running_during_enrolments_and_deletions_always_see_one_whole_gallery(
    fresh_run, face_arrays
):
    import threading

    images, labels = face_arrays
    gallery = Gallery(fresh_run)
    model = gallery.model
    queries = model.embed(images[labels >= STRANGERS][:8])
    stop, errors, answers = threading.Event(), [], []

    def searcher() -> None:
        while not stop.is_set():
            try:
                matches, calibration, _ = gallery.search(queries, 5)
                answers.append(len(matches))
                assert all(len(row) == 5 for row in matches)
                assert np.isfinite(calibration.threshold)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(4):
            rows = np.flatnonzero(labels == STRANGERS + n)[:3]
            new = gallery.enrol(f"p{n}", images[rows], model.embed(images[rows]))
            gallery.delete(new[0].id)
            gallery.delete(n)  # a run entry
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert len(answers) > 3
    assert len(gallery) == 360 + 4 * 2 - 4


def test_fields_sent_twice_are_refused(fresh_run, face_arrays):
    images, _ = face_arrays
    c, gallery = client(fresh_run)
    one = ("a.png", png(images[0]), "image/png")
    r = c.post("/api/search", files=[("image", one), ("image", one)])
    assert r.status_code == 400 and "image: sent 2 times" in r.json()["detail"]
    r = c.post("/api/enrol", data={"name": ["A", "B"]}, files=[("images", one)])
    assert r.status_code == 400 and "name: sent 2 times" in r.json()["detail"]
    assert len(gallery) == 360


def test_forgetting_a_name_removes_all_its_entries_in_one_change(fresh_run, face_arrays):
    images, labels = face_arrays
    c, gallery = client(fresh_run)
    rows = np.flatnonzero(labels == 36)[:3]
    name = "Mahsa\u200cJoon"  # a zero-width non-joiner, as in Persian names, is kept
    assert enrol(c, name, [png(images[i]) for i in rows]).status_code == 200
    listed = c.get("/api/gallery", params={"name": name}).json()
    assert listed["total"] == 3
    r = c.delete(f"/api/people/{name}")
    assert r.status_code == 200 and len(r.json()["deleted"]) == 3
    assert r.json()["gallery_size"] == 360 and len(gallery) == 360
    assert c.delete(f"/api/people/{name}").status_code == 404


def test_query_gallery_sees_the_people_serve_enrolled(fresh_run, face_arrays, tmp_path):
    images, labels = face_arrays
    c, gallery = client(fresh_run)
    rows = np.flatnonzero(labels == 39)
    assert enrol(c, "Eve", [png(images[i]) for i in rows[:5]]).status_code == 200
    probe = tmp_path / "eve.png"
    probe.write_bytes(png(images[rows[8]]))
    answer = search(c, probe.read_bytes(), k=3)
    result = CliRunner().invoke(
        main, ["query", str(fresh_run), str(probe), "--gallery", "-k", "3", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows_out = json.loads(result.stdout)["results"]
    assert [r["label"] for r in rows_out] == [n["name"] for n in answer["neighbors"]]
    assert [r["id"] for r in rows_out] == [n["id"] for n in answer["neighbors"]]
    plain = CliRunner().invoke(main, ["query", str(fresh_run), str(probe), "--format", "json"])
    assert "Eve" not in plain.stdout  # the run's own index is unchanged
