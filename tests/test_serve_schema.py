"""The JSON API against its own OpenAPI schema: schemathesis generates requests from
``/openapi.json`` (valid and invalid ones, in-process through ASGI) and checks that no answer is a
server error and that every answer, 4xx included, matches the documented status codes, content
types and response schemas. Positive-data acceptance is not checked: the schema cannot say
"a decodable image" or "no control characters", so some schema-valid requests are rightly 400."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("torch")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pyembed.serve import Gallery, create_app  # noqa: E402

OPERATIONS = [
    "GET /api/info",
    "POST /api/search",
    "POST /api/enrol",
    "GET /api/gallery",
    "GET /api/people",
    "DELETE /api/people/{name}",
    "DELETE /api/gallery/{id}",
    "GET /api/gallery/{id}/thumbnail",
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(served_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("schema") / "run"
    shutil.copytree(served_run, run, ignore=shutil.ignore_patterns("gallery"))
    gallery = Gallery(run)
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(gallery, max_images=4))
    gallery.close()


NO_INVALID_INPUT = {"GET /api/info", "GET /api/people", "DELETE /api/people/{name}"}
"""Operations that take no constrained input: schemathesis has no invalid request to make."""
CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in OPERATIONS if label not in NO_INVALID_INPUT
]


@pytest.mark.parametrize("label,mode", CASES)
def test_every_answer_is_documented_and_never_a_server_error(api_schema, label, mode):
    operations = {op.ok().label: op.ok() for op in api_schema.get_all_operations()}
    assert set(operations) == set(OPERATIONS)  # a new endpoint must be added here

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(operations[label].as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(checks=CHECKS)

    run()
