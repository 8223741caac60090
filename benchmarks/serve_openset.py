"""Open-set behaviour of the served gallery: strangers rejected, enrolled people recognised.

Trains (or takes) a faces run on the people below ``--strangers``; the others were never trained
on. With the gallery threshold calibrated as ``pyembed serve`` does, it reports:

- strangers: the share of the held-out people's photos called "unknown" before any enrolment;
- enrolment: for each held-out person alone, enrol their first ``--enrol`` photos, then search
  the rest (as files, and through the webcam path: enlarged 3x in a 400 x 320 JPEG frame, crop
  to the face); the share named correctly, and the share of the other held-out people's photos
  still "unknown";
- the threshold and its balanced accuracy on the gallery.

    python benchmarks/serve_openset.py
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from serve_latency import ROOT, frame_jpeg, train_run  # noqa: E402

from pyembed.serve import Gallery  # noqa: E402


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=ROOT / "tests/data/faces/olivetti.npz")
    parser.add_argument("--strangers", type=int, default=36)
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--enrol", type=int, default=5, help="Photos enrolled per person")
    args = parser.parse_args()
    with np.load(args.faces) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
    held_out = sorted(int(x) for x in np.unique(labels[labels >= args.strangers]))
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or train_run(args.faces, args.strangers, Path(tmp))
        work = Path(tmp) / "copy"
        shutil.copytree(run_dir, work, ignore=shutil.ignore_patterns("gallery"))
        crop = 3 * images.shape[1] / 320

        def answers(gallery: Gallery, rows: np.ndarray, camera: bool) -> list[str]:
            files = [("x", frame_jpeg(images[r]) if camera else png(images[r])) for r in rows]
            inputs = gallery.model.prepare(files, crop if camera else 1.0)
            matches, calibration, _ = gallery.search(gallery.model.embed(inputs), 1)
            return [
                m[0].name if m[0].distance <= calibration.threshold else "unknown" for m in matches
            ]

        strangers = np.flatnonzero(labels >= args.strangers)
        with Gallery(work) as gallery:
            c = gallery.calibration
            print(
                f"gallery: {len(gallery)} faces of {len(gallery.people())} people; threshold "
                f"{c.threshold:.4f} ({c.source}, {c.queries} queries, balanced accuracy "
                f"{c.balanced_accuracy:.3f})"
            )
            for camera in (False, True):
                got = answers(gallery, strangers, camera)
                share = np.mean([g == "unknown" for g in got])
                path = "webcam path" if camera else "files"
                print(f"strangers before enrolment ({path}): {share:.3f} unknown "
                      f"({sum(g == 'unknown' for g in got)}/{len(got)})")  # fmt: skip
        print()
        print("| person | path | named correctly | other held-out photos unknown |")
        print("|---|---|---:|---:|")
        totals: dict[str, list[float]] = {"files": [], "webcam path": []}
        for person in held_out:
            shutil.rmtree(work / "gallery")
            rows = np.flatnonzero(labels == person)
            others = np.flatnonzero((labels >= args.strangers) & (labels != person))
            with Gallery(work) as gallery:
                enrolled = rows[: args.enrol]
                inputs = images[enrolled]
                gallery.enrol(f"p{person}", inputs, gallery.model.embed(inputs))
                for camera in (False, True):
                    path = "webcam path" if camera else "files"
                    named = np.mean(
                        [a == f"p{person}" for a in answers(gallery, rows[args.enrol :], camera)]
                    )
                    rejected = np.mean([a == "unknown" for a in answers(gallery, others, camera)])
                    totals[path].append(named)
                    print(f"| {person} | {path} | {named:.2f} | {rejected:.2f} |")
        for path, values in totals.items():
            print(f"| all | {path} | {np.mean(values):.2f} | |")


if __name__ == "__main__":
    main()
