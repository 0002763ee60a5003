"""`openapi.yaml` as a generator reads it: a valid OpenAPI 3.1 document, a unique operationId on every operation, a
schema on every response with a body, and the live sidecar's answers valid against those schemas."""

import json
import pathlib
import urllib.error
import urllib.request

import jsonschema
import pytest
import yaml


SPEC_PATH = pathlib.Path(__file__).resolve().parents[3] / "openapi.yaml"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method, path, operation


def test_the_document_is_valid_openapi(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


def test_every_operation_has_a_unique_operation_id_and_every_body_a_schema(spec):
    ids = [operation.get("operationId") for _, _, operation in operations(spec)]
    assert None not in ids and len(ids) == len(set(ids)), ids
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if "$ref" in response or status == "204":
                continue
            content = response.get("content")
            assert content, f"{method} {path} {status} has no content"
            for media, body in content.items():
                assert "schema" in body, f"{method} {path} {status} {media} has no schema"


def check(spec, name, value):
    """Validates `value` against components/schemas/`name`, resolving the document's own $refs."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(value)


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503 answers with the report too
        return json.loads(error.read())


def test_the_sidecars_answers_match_their_schemas(spec, gate, sidecar_url, tenant):
    permit = gate.acquire("slack", tenant, "conversations.history")
    answer = gate.request("POST", "/v1/acquire", {"integration": "slack", "tenant": tenant, "operation": "users.list"})
    check(spec, "AcquireResponse", answer)
    check(spec, "RecordResponse", gate.record(permit, status=429, headers={"Retry-After": "1"}))
    check(spec, "RecordResponse", gate.record(answer["permit"], "success"))
    check(spec, "KeyState", gate.key_state("slack", tenant))
    check(spec, "Health", gate.health())
    check(spec, "Liveness", get_json(sidecar_url + "/api/health/live"))
    check(spec, "DashboardData", get_json(sidecar_url + "/api/dashboard"))
    request = urllib.request.Request(
        sidecar_url + "/v1/acquire", data=b'{"integration":"slack","tenant":"not a tenant!"}', method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=2)
    check(spec, "Error", json.loads(refused.value.read()))
