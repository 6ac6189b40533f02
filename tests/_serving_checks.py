"""Shared by the unit tests (the plain app) and the integration tests (the Serve graph): the
schemathesis fuzzing of the OpenAPI document and the sweep of named bad inputs."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fuzz(schema, max_examples: int, **call_kwargs) -> Counter:
    """Every operation of the schema, with data that fits it and data that does not
    (deterministic); every answer goes through CHECKS. Returns the count of each
    (operation, mode, status)."""
    seen: Counter = Counter()

    def runner(operation, mode):
        @settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            response = case.call(**call_kwargs)
            seen[(operation.label, mode.value, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS)

        return run

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                runner(operation, mode)()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise  # only an operation without inputs has no invalid request
    return seen
