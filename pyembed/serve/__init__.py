"""The face lookup page and its JSON API (``pyembed serve``; the ``serve`` extra).

:class:`Gallery` is a faces run's index plus the people enrolled since, on disk beside the run;
:class:`FaceModel` turns image bytes into embeddings with the run's network, through the same
preprocessing as ``pyembed query`` (:mod:`pyembed.datasets.images`); :func:`create_app` is the
FastAPI application serving the page and the API. FastAPI, Pillow and torch are imported here and
only here: ``import pyembed`` never loads them.

Why FastAPI and uvicorn: FastAPI writes the OpenAPI schema from the endpoint signatures (so the
documented API is the one that runs), validates parameters into 422s with messages, parses
multipart uploads (python-multipart) and ships a test client; uvicorn is the ASGI server it is
built and documented for. Both are widely used, released often and pure Python on top of
Starlette.
"""

from pyembed.serve.app import create_app
from pyembed.serve.gallery import Gallery, GalleryError, UnknownEntryError
from pyembed.serve.model import FaceModel

__all__ = ["FaceModel", "Gallery", "GalleryError", "UnknownEntryError", "create_app"]
