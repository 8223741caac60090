"""The FastAPI application: the page, its static files and the JSON API it uses.

Endpoints (the OpenAPI schema at ``/openapi.json`` and the docs at ``/docs`` describe each):

- ``GET /``: the page; ``GET /static/...``: its script and style;
- ``GET /api/info``: the run, the model's input size, the gallery's size and the threshold;
- ``POST /api/search``: one image (multipart field ``image``) to its nearest gallery faces and a
  name, or "unknown" when the nearest is farther than the threshold;
- ``POST /api/enrol``: a ``name`` and one or more images (fields ``images``) added to the gallery;
- ``GET /api/gallery``, ``GET /api/people``: the entries (paged) and the names;
- ``DELETE /api/gallery/{id}``, ``DELETE /api/people/{name}`` (every entry of a name);
  ``GET /api/gallery/{id}/thumbnail`` (PNG).

Bad input is a 4xx with ``{"detail": "message"}``: 400 for an unreadable, empty or corrupt image,
a bad name or a single-valued field sent twice, 404 for an unknown id, 409 for a search of an empty gallery, 413 for a request
larger than ``max_upload_bytes`` (refused from its ``Content-Length`` or as soon as the streamed
body passes the limit), 415 for a body that is not ``multipart/form-data`` or a file part whose
type is not an image, 422 for a missing field or an out-of-range parameter. The gallery is
unchanged by any refused request.
"""

from __future__ import annotations

import base64
import time
import unicodedata
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pyembed.datasets.images import ImageError
from pyembed.serve.gallery import (
    MAX_NAME_LENGTH,
    Calibration,
    Entry,
    Gallery,
    GalleryError,
    UnknownEntryError,
    encode_png,
)
from pyembed.serve.model import FaceModel

__all__ = ["DEFAULT_MAX_IMAGES", "DEFAULT_MAX_UPLOAD_BYTES", "create_app"]

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest request body accepted, in bytes (10 MiB)."""
DEFAULT_MAX_IMAGES = 64
"""Most images in one enrolment."""
MAX_K = 100
"""Most neighbours one search returns."""
_IMAGE_TYPES = ("image/", "application/octet-stream")
"""Accepted content types of a file part (curl sends octet-stream unless told)."""


class NeighborOut(BaseModel):
    """A gallery face near the query."""

    id: int = Field(description="Gallery entry id")
    name: str
    distance: float = Field(description="L2 distance between embeddings")
    thumbnail: str = Field(description="URL of the entry's thumbnail (PNG)")


class SearchOut(BaseModel):
    """The answer for one image."""

    label: str = Field(description="The nearest face's name, or 'unknown' beyond the threshold")
    known: bool = Field(description="Whether the nearest face is within the threshold")
    distance: float = Field(description="L2 distance to the nearest face")
    threshold: float | None = Field(description="Open-set threshold (L2); null: none")
    neighbors: list[NeighborOut] = Field(description="Nearest first")
    input_png: str | None = Field(
        None, description="The model input as a PNG data URL (with preview=true)"
    )
    timings_ms: dict[str, float] = Field(description="decode, embed, search and total")
    counters: dict[str, int] = Field(description="Distance computations and visited nodes")


class EntryOut(BaseModel):
    """One gallery face."""

    id: int
    name: str
    source: str = Field(description="'run' (training data of the run) or 'enrolled'")
    added: str = Field(description="UTC time of enrolment (ISO 8601); empty for run items")
    thumbnail: str


class EnrolOut(BaseModel):
    """The faces added by one enrolment."""

    name: str
    entries: list[EntryOut]
    gallery_size: int
    threshold: float | None


class GalleryOut(BaseModel):
    """A page of gallery entries."""

    total: int = Field(description="Entries matching the filter")
    offset: int
    entries: list[EntryOut]


class PersonOut(BaseModel):
    """A name in the gallery."""

    name: str
    entries: int
    enrolled: int = Field(description="Of them, enrolled through the server")


class DeletedOut(BaseModel):
    """A removed entry."""

    deleted: EntryOut
    gallery_size: int
    threshold: float | None


class DeletedPersonOut(BaseModel):
    """The entries of a removed name."""

    deleted: list[EntryOut]
    gallery_size: int
    threshold: float | None


class InfoOut(BaseModel):
    """What the server serves."""

    run: str
    model_input: list[int] = Field(description="(height, width) in pixels")
    dim: int
    entries: int
    people: int
    threshold: float | None
    threshold_source: str = Field(description="'calibrated', 'given' or 'none'")
    calibration_queries: int
    calibration_balanced_accuracy: float | None
    search: str = Field(description="'graph' or 'exact'")
    default_k: int
    max_k: int
    default_crop: float
    max_upload_bytes: int
    max_images: int


class _TooLarge(HTTPException):
    """Raised by :class:`BodyLimit`'s receive: FastAPI passes HTTP exceptions from body parsing
    through to the exception middleware (any other error would become a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request is larger than the {limit:,} bytes accepted")


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with a 413.

    A declared ``Content-Length`` over the limit is refused before anything is read; a body
    streamed without one (or lying about it) is cut off as soon as it passes the limit.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request is larger than the {self.limit:,} bytes accepted"
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(self.limit)
            return event

        async def tracking_send(event: Any) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)


def _finite(x: float) -> float | None:
    return x if x == x and x not in (float("inf"), float("-inf")) else None


def _entry_out(e: Entry) -> EntryOut:
    return EntryOut(
        id=e.id,
        name=e.name,
        source=e.source,
        added=e.added,
        thumbnail=f"/api/gallery/{e.id}/thumbnail",
    )


def _require_multipart(request: Request) -> None:
    """415 unless the body is multipart/form-data."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise HTTPException(
            415,
            "the body must be multipart/form-data with the image files "
            f"(got {media_type or 'no content type'})",
        )


async def _single_valued(request: Request, *fields: str) -> None:
    """400 if one of ``fields`` was sent more than once (FastAPI would keep the last)."""
    form = await request.form()  # already parsed for the endpoint's parameters: no second read
    for field in fields:
        n = len(form.getlist(field))
        if n > 1:
            raise HTTPException(400, f"{field}: sent {n} times; send it once")


class ErrorOut(BaseModel):
    """Every refused request: status 4xx and a message."""

    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the 4xx answers an endpoint gives."""
    what = {
        400: "An unreadable, empty or corrupt image, a bad name, a field sent twice",
        404: "No such gallery entry",
        409: "The gallery is empty",
        413: "The request is larger than the upload limit",
        415: "The body is not multipart/form-data, or a file part is not an image type",
        422: "A missing field or an out-of-range parameter",
    }
    return {c: {"model": ErrorOut, "description": what[c]} for c in codes}


def _read_files(files: list[UploadFile], field: str) -> list[tuple[str, bytes]]:
    """The bytes of each file part, after checking its declared type."""
    out = []
    for i, f in enumerate(files):
        label = f"{field}[{i}]" if len(files) > 1 else field
        if f.filename:
            label += f" ({f.filename})"
        ctype = (f.content_type or "").lower()
        if ctype and not ctype.startswith(_IMAGE_TYPES):
            raise HTTPException(415, f"{label}: content type {ctype} is not an image type")
        out.append((label, f.file.read()))
    return out


def create_app(
    gallery: Gallery,
    model: FaceModel | None = None,
    *,
    default_k: int = 5,
    default_crop: float = 1.0,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_images: int = DEFAULT_MAX_IMAGES,
) -> FastAPI:
    """The web application over ``gallery`` and ``model``.

    Parameters
    ----------
    gallery : Gallery
        The served gallery (a faces run's index plus enrolments).
    model : FaceModel, optional
        The run's network (default: the gallery's); its ``image_shape`` and ``dim`` must match
        the gallery.
    default_k : int, default 5
        Neighbours shown per search unless the request says ``k`` (1..100).
    default_crop : float, default 1.0
        The page's initial crop for webcam frames (requests say ``crop``; the API's default is 1).
    max_upload_bytes : int, default 10 MiB
        Largest request body, in bytes.
    max_images : int, default 64
        Most images per enrolment.
    """
    model = gallery.model if model is None else model
    if model.dim != gallery.index.dim or model.image_shape != gallery.image_shape:
        raise ValueError("the model and the gallery belong to different runs")
    if not 1 <= default_k <= MAX_K:
        raise ValueError(f"default_k must be in 1..{MAX_K}, got {default_k}")
    if not 0.0 < default_crop <= 1.0:
        raise ValueError(f"default_crop must be in (0, 1], got {default_crop}")
    if max_upload_bytes < 1 or max_images < 1:
        raise ValueError("max_upload_bytes and max_images must be positive")

    import pyembed

    app = FastAPI(
        title="pyembed face lookup",
        version=pyembed.__version__,
        description=(
            "Nearest gallery faces of an image under a trained pyembed face model, enrolment of "
            "new people, and the gallery. Images are decoded, turned grayscale, centre-cropped "
            "(crop = side of the kept box as a fraction of the largest centred box with the "
            "model's aspect ratio) and resized to the model's input, as `pyembed query` does."
        ),
    )
    app.add_middleware(BodyLimit, limit=max_upload_bytes)
    static = resources.files("pyembed.serve") / "static"
    page = (static / "index.html").read_text(encoding="utf-8")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    def _threshold(c: Calibration) -> float | None:
        return _finite(c.threshold)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index_page() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/info", response_model=InfoOut, summary="What the server serves")
    def info() -> InfoOut:
        c = gallery.calibration
        return InfoOut(
            run=str(gallery.run.path),
            model_input=list(model.image_shape),
            dim=model.dim,
            entries=len(gallery),
            people=len(gallery.people()),
            threshold=_threshold(c),
            threshold_source=c.source,
            calibration_queries=c.queries,
            calibration_balanced_accuracy=c.balanced_accuracy,
            search="exact" if gallery.exact else "graph",
            default_k=default_k,
            max_k=MAX_K,
            default_crop=default_crop,
            max_upload_bytes=max_upload_bytes,
            max_images=max_images,
        )

    @app.post(
        "/api/search",
        response_model=SearchOut,
        summary="Nearest gallery faces of one image",
        dependencies=[Depends(_require_multipart)],
        responses=_errors(400, 409, 413, 415, 422),
    )
    async def search(
        request: Request,
        image: Annotated[UploadFile, File(description="The image (PNG, JPEG, ...)")],
        k: int = Query(default_k, ge=1, le=MAX_K, description="Neighbours to return"),
        crop: float = Query(1.0, gt=0.0, le=1.0, description="Centre crop fraction"),
        preview: bool = Query(False, description="Return the model input as a PNG data URL"),
    ) -> SearchOut:
        await _single_valued(request, "image")
        return await run_in_threadpool(_search, image, k, crop, preview)

    def _search(image: UploadFile, k: int, crop: float, preview: bool) -> SearchOut:
        t0 = time.perf_counter()
        files = _read_files([image], "image")
        inputs = _bad_image(lambda: model.prepare(files, crop))
        t1 = time.perf_counter()
        vectors = model.embed(inputs)
        t2 = time.perf_counter()
        try:
            matches, calibration, counters = gallery.search(vectors, k)
        except GalleryError as exc:
            raise HTTPException(409, str(exc)) from None
        t3 = time.perf_counter()
        row = matches[0]
        best = row[0]
        known = best.distance <= calibration.threshold
        return SearchOut(
            label=best.name if known else "unknown",
            known=known,
            distance=best.distance,
            threshold=_threshold(calibration),
            neighbors=[
                NeighborOut(
                    id=m.id,
                    name=m.name,
                    distance=m.distance,
                    thumbnail=f"/api/gallery/{m.id}/thumbnail",
                )
                for m in row
            ],
            input_png=(
                "data:image/png;base64," + base64.b64encode(encode_png(inputs[0])).decode()
                if preview
                else None
            ),
            timings_ms={
                "decode": 1e3 * (t1 - t0),
                "embed": 1e3 * (t2 - t1),
                "search": 1e3 * (t3 - t2),
                "total": 1e3 * (time.perf_counter() - t0),
            },
            counters=counters,
        )

    @app.post(
        "/api/enrol",
        response_model=EnrolOut,
        summary="Add faces of one person to the gallery",
        dependencies=[Depends(_require_multipart)],
        responses=_errors(400, 413, 415, 422),
    )
    async def enrol(
        request: Request,
        name: Annotated[
            str,
            Form(
                min_length=1,
                max_length=MAX_NAME_LENGTH,
                description="The person's name (1-80 characters, not 'unknown')",
            ),
        ],
        images: Annotated[list[UploadFile], File(description="One or more images of the person")],
        crop: float = Query(1.0, gt=0.0, le=1.0, description="Centre crop fraction"),
    ) -> EnrolOut:
        await _single_valued(request, "name")
        return await run_in_threadpool(_enrol, name, images, crop)

    def _enrol(name: str, images: list[UploadFile], crop: float) -> EnrolOut:
        if len(images) > max_images:
            raise HTTPException(
                400, f"images: at most {max_images} per enrolment, got {len(images)}"
            )
        from pyembed.serve.gallery import check_name

        try:
            clean = check_name(name)
        except GalleryError as exc:
            raise HTTPException(400, str(exc)) from None
        files = _read_files(images, "images")
        inputs = _bad_image(lambda: model.prepare(files, crop))
        vectors = model.embed(inputs)
        try:
            new = gallery.enrol(clean, inputs, vectors)
        except GalleryError as exc:
            raise HTTPException(400, str(exc)) from None
        return EnrolOut(
            name=clean,
            entries=[_entry_out(e) for e in new],
            gallery_size=len(gallery),
            threshold=_threshold(gallery.calibration),
        )

    @app.get(
        "/api/gallery",
        response_model=GalleryOut,
        summary="Gallery entries, by id",
        responses=_errors(422),
    )
    def list_gallery(
        offset: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=10_000),
        name: str | None = Query(None, description="Only this name"),
        source: str | None = Query(None, pattern="^(run|enrolled)$"),
    ) -> GalleryOut:
        wanted = None if name is None else unicodedata.normalize("NFC", name).strip()
        rows = [
            e
            for e in gallery.entries()
            if (wanted is None or e.name == wanted) and (source is None or e.source == source)
        ]
        return GalleryOut(
            total=len(rows),
            offset=offset,
            entries=[_entry_out(e) for e in rows[offset : offset + limit]],
        )

    @app.get("/api/people", response_model=list[PersonOut], summary="Names in the gallery")
    def people() -> list[PersonOut]:
        enrolled: dict[str, int] = {}
        for e in gallery.entries():
            if e.source == "enrolled":
                enrolled[e.name] = enrolled.get(e.name, 0) + 1
        return [
            PersonOut(name=n, entries=c, enrolled=enrolled.get(n, 0))
            for n, c in gallery.people().items()
        ]

    @app.delete(
        "/api/people/{name}",
        response_model=DeletedPersonOut,
        summary="Remove every entry of one name",
        responses=_errors(404, 422),
    )
    def forget(name: str) -> DeletedPersonOut:
        try:
            gone = gallery.delete_name(name)
        except UnknownEntryError as exc:
            raise HTTPException(404, exc.args[0]) from None
        return DeletedPersonOut(
            deleted=[_entry_out(e) for e in gone],
            gallery_size=len(gallery),
            threshold=_threshold(gallery.calibration),
        )

    @app.delete(
        "/api/gallery/{id}",
        response_model=DeletedOut,
        summary="Remove one entry",
        responses=_errors(404, 422),
    )
    def delete(id: int) -> DeletedOut:
        try:
            entry = gallery.delete(id)
        except UnknownEntryError as exc:
            raise HTTPException(404, exc.args[0]) from None
        return DeletedOut(
            deleted=_entry_out(entry),
            gallery_size=len(gallery),
            threshold=_threshold(gallery.calibration),
        )

    @app.get(
        "/api/gallery/{id}/thumbnail",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, **_errors(404, 422)},
        summary="An entry's face as the model saw it (PNG)",
    )
    def thumbnail(id: int) -> Response:
        try:
            data = gallery.thumbnail(id)
        except UnknownEntryError as exc:
            raise HTTPException(404, exc.args[0]) from None
        except FileNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    return app


def _bad_image(prepare: Any) -> Any:
    """Run ``prepare()``; an unusable image is a 400 naming the file part."""
    try:
        return prepare()
    except ImageError as exc:
        raise HTTPException(400, str(exc)) from None
