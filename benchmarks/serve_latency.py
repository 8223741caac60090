"""Latency of the face lookup server per webcam frame: p50 and p95 on this machine.

Starts ``pyembed serve`` as a real process, then sends webcam-like frames one at a time, as the
page does (one request in flight): 400 x 320 JPEG (quality 0.95, the page's setting) with a
held-out face enlarged 3x in the centre, searched with the page's default crop (0.6) and k = 5.
Prints the client's round trip (HTTP on loopback, multipart parsing, decode, preprocessing,
embedding, search, JSON) and the server's own split (``timings_ms`` of each answer).

Without ``--run-dir`` it first trains a faces run on the given face file (people below
``--strangers`` only; the rest are the query faces), as the tests do.

    python benchmarks/serve_latency.py                                # Olivetti (tests/data)
    python benchmarks/serve_latency.py --faces ../shared/data/faces/yaleb32.npz --strangers 34
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def frame_jpeg(face: np.ndarray) -> bytes:
    """A 400 x 320 grey frame with ``face`` enlarged 3x in its centre, as JPEG quality 95."""
    big = np.kron(face, np.ones((3, 3), np.uint8))
    frame = np.full((320, 400), 128, np.uint8)
    top, left = (320 - big.shape[0]) // 2, (400 - big.shape[1]) // 2
    frame[top : top + big.shape[0], left : left + big.shape[1]] = big
    buffer = io.BytesIO()
    Image.fromarray(frame).convert("RGB").save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def train_run(faces: Path, strangers: int, folder: Path) -> Path:
    with np.load(faces) as data:
        images, labels = data["images"], data["labels"]
    keep = labels < strangers
    subset = folder / "train.npz"
    np.savez(subset, images=images[keep], labels=labels[keep])
    run_dir = folder / "run"
    cmd = [sys.executable, "-m", "pyembed", "train", "faces", "--data", str(subset)]
    cmd += ["--run-dir", str(run_dir), "--epochs", "10", "--test-identities", "6", "--no-progress"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return run_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(values: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(a.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=ROOT / "tests/data/faces/olivetti.npz")
    parser.add_argument("--strangers", type=int, default=36, help="First label never trained on")
    parser.add_argument("--run-dir", type=Path, default=None, help="An existing faces run")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--search", choices=("graph", "exact"), default="graph")
    parser.add_argument("--out", type=Path, default=None, help="Append the table here (markdown)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or train_run(args.faces, args.strangers, Path(tmp))
        with np.load(args.faces) as data:
            images, labels = data["images"], data["labels"]
        queries = images[labels >= args.strangers]
        size = int(queries.shape[1])
        frames = [frame_jpeg(q) for q in queries]
        crop = 3 * size / 320  # the face's share of the frame height (0.6 for 64 x 64 faces)
        port = free_port()
        cmd = [sys.executable, "-m", "pyembed", "serve", str(run_dir), "--port", str(port)]
        server = subprocess.Popen([*cmd, "--search", args.search], stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    with urllib.request.urlopen(url + "/api/info", timeout=2) as r:
                        info = json.loads(r.read())
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                raise SystemExit("the server did not start")
            conn = http.client.HTTPConnection("127.0.0.1", port)
            boundary = "pyembedbench"
            client, parts = [], {"decode": [], "embed": [], "search": [], "total": []}
            for i in range(args.warmup + args.frames):
                jpeg = frames[i % len(frames)]
                body = (
                    (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                        'filename="frame.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
                    ).encode()
                    + jpeg
                    + f"\r\n--{boundary}--\r\n".encode()
                )
                t0 = time.perf_counter()
                conn.request(
                    "POST",
                    f"/api/search?k=5&crop={crop:.4f}",
                    body=body,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                response = conn.getresponse()
                answer = json.loads(response.read())
                elapsed = 1e3 * (time.perf_counter() - t0)
                if response.status != 200:
                    raise SystemExit(f"search failed: {answer}")
                if i >= args.warmup:
                    client.append(elapsed)
                    for key in parts:
                        parts[key].append(answer["timings_ms"][key])
            conn.close()
        finally:
            server.terminate()
            server.communicate(timeout=30)

    rows = [("round trip (client)", client)] + [
        (f"server: {k}" if k != "total" else "server: total", v)
        for k, v in (("decode", parts["decode"]), ("embed", parts["embed"]),
                     ("search", parts["search"]), ("total", parts["total"]))
    ]  # fmt: skip
    title = (
        f"{args.faces.name}: gallery {info['entries']} faces of {info['people']} people, "
        f"model input {info['model_input'][0]}x{info['model_input'][1]}, dim {info['dim']}, "
        f"{info['search']} search, k=5; {args.frames} frames (400x320 JPEG, {len(jpeg):,} bytes) "
        f"after {args.warmup} warm-up; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores"
    )
    lines = [
        f"**{title}**",
        "",
        "| per frame | p50 ms | p95 ms | mean ms |",
        "|---|---:|---:|---:|",
    ]
    for name, values in rows:
        p50, p95, mean = percentiles(values)
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {mean:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
