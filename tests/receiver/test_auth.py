"""Bearer tokens: each token maps to a tenant stored with the data; missing or wrong tokens are refused and
no token text ever reaches a log line, an error or the status."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_events.errors import ConfigError
from otel_events.receiver.security import (
    AuthenticationError,
    TokenAuthenticator,
    load_authenticator,
    parse_tokens_variable,
    read_tokens_file,
)
from tests.receiver.conftest import TRACE_EXPORT, raw_export
from tests.receiver.http_requests import post
from tests.receiver.otlp_requests import make_span, trace_request
from tests.support import count, query, wait_until

TOKEN_A = "tok-A-4f9c2e71b8d04a5f9e3c"
TOKEN_B = "tok-B-b64+/padding=="
WRONG = "tok-WRONG-d1e2f3a4b5c6"


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"# team tokens\n{TOKEN_A} = team-a\n\n{TOKEN_B} = team-b\n")
    path.chmod(0o600)
    return path


def test_tokens_map_to_tenants_over_grpc_and_http_with_the_real_exporters(make_receiver, tokens_file) -> None:
    receiver = make_receiver(tokens_file=tokens_file)
    resource = Resource.create({"service.name": "tenant-app"})
    for exporter, name in (
        (
            GrpcSpanExporter(
                endpoint=f"127.0.0.1:{receiver.ports.grpc}",
                insecure=True,
                headers=(("authorization", f"Bearer {TOKEN_A}"),),
            ),
            "grpc-a",
        ),
        (
            HttpSpanExporter(
                endpoint=f"http://127.0.0.1:{receiver.ports.http}/v1/traces",
                headers={"Authorization": f"Bearer {TOKEN_B}"},
            ),
            "http-b",
        ),
    ):
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("t").start_as_current_span(name):
            pass
        provider.shutdown()
    raw_export(
        receiver.ports.grpc,
        TRACE_EXPORT,
        trace_request([make_span("raw-b")]).SerializeToString(),
        metadata=(("authorization", f"bearer {TOKEN_B}"),),  # the scheme is case-insensitive
    )
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 3)
    assert dict(query(receiver, "SELECT name, tenant FROM spans")) == {
        "grpc-a": "team-a",
        "http-b": "team-b",
        "raw-b": "team-b",
    }


def test_missing_or_wrong_tokens_are_refused_and_never_logged(make_receiver, tokens_file, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = make_receiver(tokens_file=tokens_file)
    payload = trace_request([make_span("sneaky")]).SerializeToString()
    messages = []
    for metadata in (
        (),
        (("authorization", f"Bearer {WRONG}"),),
        (("authorization", WRONG),),
        (("authorization", f"Basic {TOKEN_A}"),),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            raw_export(receiver.ports.grpc, TRACE_EXPORT, payload, metadata=metadata)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        messages.append(caught.value.details())
    for headers in (
        {},
        {"Authorization": f"Bearer {WRONG}"},
        {"Authorization": f"Bearer {TOKEN_A[:-1]}"},
        {"Authorization": "Bearer"},
    ):
        answer = post(receiver.ports.http, "/v1/traces", payload, headers=headers)
        assert answer.status == 401 and answer.headers["www-authenticate"].startswith("Bearer")
        messages.append(answer.rpc_status().message)
    json_answer = post(
        receiver.ports.http, "/v1/traces", b"{}", content_type="application/json", headers={"Authorization": WRONG}
    )
    assert json_answer.status == 401 and b'"code": 16' in json_answer.body
    messages.append(json_answer.body.decode())

    # A good request afterwards is stored; none of the refused ones is.
    raw_export(
        receiver.ports.grpc,
        TRACE_EXPORT,
        trace_request([make_span("allowed")]).SerializeToString(),
        metadata=(("authorization", f"Bearer {TOKEN_A}"),),
    )
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 1)
    assert query(receiver, "SELECT name, tenant FROM spans") == [("allowed", "team-a")]
    status = receiver.status()
    assert status["rejected"]["unauthenticated"] == 9

    assert "missing bearer token" in messages[0] and "invalid bearer token" in messages[1]
    assert "Bearer scheme" in messages[2] and "Bearer scheme" in messages[3]
    seen = "\n".join([*messages, caplog.text, repr(status), *(r.getMessage() for r in caplog.records)])
    status_file = receiver.config.resolved_wal_dir / "status.json"
    seen += status_file.read_text() if status_file.exists() else ""
    for secret in (TOKEN_A, TOKEN_B, WRONG, TOKEN_A[:-1]):
        assert secret not in seen


def test_tokens_file_formats_and_errors_never_quote_the_file(tmp_path: Path, caplog) -> None:
    toml = tmp_path / "tokens.toml"
    toml.write_text(f'[tokens]\n"{TOKEN_A}" = "team-a"\n"{TOKEN_B}" = "team-b"\n')
    toml.chmod(0o600)
    assert read_tokens_file(toml) == {TOKEN_A: "team-a", TOKEN_B: "team-b"}

    readable = tmp_path / "readable"
    readable.write_text(f"{TOKEN_A} = team-a\n")
    readable.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert read_tokens_file(readable) == {TOKEN_A: "team-a"}
    assert "readable by every user" in caplog.text and "chmod 600" in caplog.text

    for name, text, problem in (
        ("no-tenant", f"{TOKEN_A} =\n", "line 1: expected '<token> = <tenant>'"),
        ("no-separator", f"# c\n{TOKEN_A}\n", "line 2: expected"),
        ("bad-tenant", f"{TOKEN_A} = team a!\n", "line 1: tenant 'team a!' is not a valid name"),
        ("repeated", f"{TOKEN_A} = a\n{TOKEN_A} = b\n", "line 2: repeats the token of line 1"),
        ("empty", "# nothing\n", "holds no tokens"),
        ("bad.toml", f'[tokens]\n"{TOKEN_A}" = \n', "is not valid TOML"),
        ("shape.toml", f'token = "{TOKEN_A}"\n', "expected only a [tokens] table"),
    ):
        path = tmp_path / name
        path.write_text(text)
        path.chmod(0o600)
        with pytest.raises(ConfigError) as caught:
            read_tokens_file(path)
        assert problem in str(caught.value) and str(path) in str(caught.value)
        assert TOKEN_A not in str(caught.value)
    with pytest.raises(ConfigError, match="does not exist"):
        read_tokens_file(tmp_path / "missing")


def test_tokens_from_the_environment_and_precedence(tmp_path: Path) -> None:
    assert parse_tokens_variable(f"team-a:{TOKEN_A}, team-b:{TOKEN_B},team-a:x:y:z") == {
        TOKEN_A: "team-a",
        TOKEN_B: "team-b",
        "x:y:z": "team-a",
    }
    for text, problem in (
        (f"team-a {TOKEN_A}", "entry 1 must be '<tenant>:<token>'"),
        (f"team-a:{TOKEN_A},:{TOKEN_B}", "entry 2 must be"),
        (f"a:{TOKEN_A},b:{TOKEN_A}", "entry 2 repeats an earlier token"),
    ):
        with pytest.raises(ConfigError, match=problem) as caught:
            parse_tokens_variable(text)
        assert TOKEN_A not in str(caught.value)

    assert load_authenticator(None, {}) is None
    from_env = load_authenticator(None, {"OTEL_EVENTS_TOKENS": f"env-team:{TOKEN_A}"})
    assert from_env is not None and from_env.authenticate(f"Bearer {TOKEN_A}") == "env-team"
    path = tmp_path / "tokens"
    path.write_text(f"{TOKEN_B} = file-team\n")
    os.chmod(path, 0o600)
    from_file = load_authenticator(path, {"OTEL_EVENTS_TOKENS": f"env-team:{TOKEN_A}"})
    assert from_file is not None and from_file.tenants == {"file-team"}
    with pytest.raises(AuthenticationError):
        from_file.authenticate(f"Bearer {TOKEN_A}")
    # A malformed variable fails closed: authentication must not silently switch off.
    with pytest.raises(ConfigError, match="OTEL_EVENTS_TOKENS"):
        load_authenticator(None, {"OTEL_EVENTS_TOKENS": "no-separator"})
    with pytest.raises(ConfigError, match="at least one token"):
        TokenAuthenticator({})


def test_a_bad_tokens_file_stops_the_receiver_from_starting(make_receiver, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        make_receiver(tokens_file=tmp_path / "absent")
