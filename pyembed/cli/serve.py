"""``pyembed serve RUN_DIR``: the face lookup page and its JSON API for a trained faces run.

Needs the ``serve`` extra (FastAPI, uvicorn, Pillow) and torch; both are imported when the command
runs, so ``pyembed --help`` stays light.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from pyembed.cli._common import (
    GuardedCommand,
    crop_option,
    debug_option,
    ef_option,
    k_option,
    search_option,
)

__all__ = ["serve"]


@click.command("serve", cls=GuardedCommand)
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@k_option(default=5, help="Nearest gallery faces shown per frame (the page can ask for others).")
@click.option(
    "--threshold",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Open-set threshold (L2 distance): a nearest face farther than this is 'unknown'. "
    "Default: calibrated on the gallery (nearest same-name against nearest other-name "
    "distances, best balanced accuracy), again after every change.",
)
@crop_option(default=0.6, help="The page's initial centre crop for webcam frames.")
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0.001),
    default=10.0,
    show_default=True,
    help="Largest request body, in MiB.",
)
@search_option(default="graph")
@ef_option
@debug_option
def serve(
    run_dir: Path,
    host: str,
    port: int,
    k: int,
    threshold: float | None,
    crop: float,
    max_upload_mb: float,
    search: str,
    ef: int | None,
) -> None:
    """Serve a face lookup page for the faces run in RUN_DIR at http://HOST:PORT/.

    The page streams the webcam (or takes uploads), shows the nearest gallery faces and a name or
    'unknown', and enrols new people. The gallery (the run's faces plus enrolments) is kept in
    RUN_DIR/gallery/; the run's own files are never changed. API schema: /openapi.json.
    """
    if search == "exact" and ef is not None:
        raise click.UsageError("--ef applies only to --search graph")
    if k > 100:
        raise click.BadParameter("at most 100", param_hint="--k")
    try:
        import uvicorn

        from pyembed.serve import Gallery, create_app
    except ImportError as exc:
        raise click.ClickException(
            f"pyembed serve needs the serve extra: pip install 'pyembed[serve]' ({exc})"
        ) from exc
    gallery = Gallery(run_dir, threshold=threshold, exact=search == "exact", ef=ef)
    app = create_app(  # serves the gallery's own model (Gallery loads it once)
        gallery,
        default_k=k,
        default_crop=crop,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
    )
    c = gallery.calibration
    shown = (
        "none (nothing is rejected)" if c.source == "none" else f"{c.threshold:.4g} ({c.source})"
    )
    click.echo(
        f"pyembed serve: {len(gallery)} faces of {len(gallery.people())} people from {run_dir}; "
        f"threshold {shown}",
        err=True,
    )
    if not _is_loopback(host):
        click.echo(
            f"warning: listening on {host}, reachable from other machines; browsers allow the "
            "camera only on https or localhost pages",
            err=True,
        )
    click.echo(f"open http://{_url_host(host)}:{port}/  (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
