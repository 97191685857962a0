"""Fixtures of the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk.otlp_sink import OtlpSink, running_sink


@pytest.fixture
def otlp_sink() -> Iterator[OtlpSink]:
    """An OTLP/gRPC collector on a free loopback port."""
    with running_sink() as sink:
        yield sink
