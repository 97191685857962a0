"""TLS and mutual TLS on both listeners, with throwaway certificates made by the openssl command."""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_events.errors import ConfigError
from otel_events.receiver.config import ReceiverConfig
from tests.receiver.conftest import TRACE_EXPORT
from tests.receiver.http_requests import post
from tests.receiver.otlp_requests import make_span, trace_request
from tests.support import count, query, wait_until

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # signed by another CA
    rogue_key: Path


@pytest.fixture(autouse=True)
def _exporters_use_their_certificate_options(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables override a session's CA file, i.e. the HTTP exporter's certificate_file.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _issue(directory: Path, name: str, ca: str, usage: str) -> None:
    _openssl(
        *("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"),
        cwd=directory,
    )
    (directory / f"{name}.ext").write_text(f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n")
    _openssl(
        *("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial"),
        *("-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext"),
        cwd=directory,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue-ca"):
        _openssl(
            *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN={ca}"),
            cwd=directory,
        )
    _issue(directory, "server", "ca", "serverAuth")
    _issue(directory, "client", "ca", "clientAuth")
    _issue(directory, "rogue", "rogue-ca", "clientAuth")
    d = directory
    return Pki(
        d / "ca.pem",
        d / "server.pem",
        d / "server.key",
        d / "client.pem",
        d / "client.key",
        d / "rogue.pem",
        d / "rogue.key",
    )


def _export_span(exporter, name: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "tls-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(name):
        pass
    provider.shutdown()


def _grpc_export(port: int, credentials: grpc.ChannelCredentials | None, name: str) -> bytes:
    target = f"127.0.0.1:{port}"
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        return channel.unary_unary(TRACE_EXPORT)(trace_request([make_span(name)]).SerializeToString(), timeout=10)


def _client_context(pki: Pki, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def test_tls_on_both_listeners_with_the_real_exporters(make_receiver, pki: Pki) -> None:
    receiver = make_receiver(tls_cert=pki.server_cert, tls_key=pki.server_key)
    grpc_port, http_port = receiver.ports.grpc, receiver.ports.http
    ca = pki.ca.read_bytes()
    _export_span(
        GrpcSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", credentials=grpc.ssl_channel_credentials(ca)), "grpc-tls"
    )
    _export_span(
        HttpSpanExporter(endpoint=f"https://127.0.0.1:{http_port}/v1/traces", certificate_file=str(pki.ca)), "http-tls"
    )
    assert (
        post(
            http_port, "/v1/traces", trace_request([make_span("raw-tls")]).SerializeToString(), tls=_client_context(pki)
        ).status
        == 200
    )

    # Plain-text clients get no service on a TLS port.
    with pytest.raises(grpc.RpcError) as caught:
        _grpc_export(grpc_port, None, "plain")
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        post(http_port, "/v1/traces", b"")
    # A client that does not trust the server's CA refuses it.
    with pytest.raises(ssl.SSLCertVerificationError):
        post(http_port, "/v1/traces", b"", tls=ssl.create_default_context())

    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 3)
    assert sorted(name for (name,) in query(receiver, "SELECT name FROM spans")) == ["grpc-tls", "http-tls", "raw-tls"]


def test_mutual_tls_refuses_clients_without_a_trusted_certificate(make_receiver, pki: Pki) -> None:
    receiver = make_receiver(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca)
    grpc_port, http_port = receiver.ports.grpc, receiver.ports.http
    ca = pki.ca.read_bytes()
    client = grpc.ssl_channel_credentials(ca, pki.client_key.read_bytes(), pki.client_cert.read_bytes())
    _export_span(GrpcSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", credentials=client), "grpc-mtls")
    _export_span(
        HttpSpanExporter(
            endpoint=f"https://127.0.0.1:{http_port}/v1/traces",
            certificate_file=str(pki.ca),
            client_certificate_file=str(pki.client_cert),
            client_key_file=str(pki.client_key),
        ),
        "http-mtls",
    )
    payload = trace_request([make_span("raw-mtls")]).SerializeToString()
    assert (
        post(http_port, "/v1/traces", payload, tls=_client_context(pki, pki.client_cert, pki.client_key)).status == 200
    )

    for credentials in (
        grpc.ssl_channel_credentials(ca),  # no client certificate
        grpc.ssl_channel_credentials(ca, pki.rogue_key.read_bytes(), pki.rogue_cert.read_bytes()),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            _grpc_export(grpc_port, credentials, "refused")
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    for context in (_client_context(pki), _client_context(pki, pki.rogue_cert, pki.rogue_key)):
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            post(http_port, "/v1/traces", trace_request([make_span("refused")]).SerializeToString(), tls=context)

    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 3)
    assert sorted(name for (name,) in query(receiver, "SELECT name FROM spans")) == [
        "grpc-mtls",
        "http-mtls",
        "raw-mtls",
    ]


def test_tls_settings_are_checked_with_clear_errors(make_receiver, pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both a certificate and a key"):
        ReceiverConfig(tls_cert=pki.server_cert).validate()
    with pytest.raises(ConfigError, match=r"client CA \(mutual TLS\) needs a server certificate"):
        ReceiverConfig(tls_client_ca=pki.ca).validate()
    with pytest.raises(ConfigError, match=f"cannot load TLS certificate {tmp_path / 'absent.pem'}"):
        make_receiver(tls_cert=tmp_path / "absent.pem", tls_key=pki.server_key)
    with pytest.raises(ConfigError, match="cannot load TLS certificate"):
        make_receiver(tls_cert=pki.server_cert, tls_key=pki.client_key)  # a key that does not match
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ConfigError, match=f"cannot load TLS client CA {garbage}"):
        make_receiver(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=garbage)
