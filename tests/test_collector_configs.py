"""collector-config/: the rotel agent forwards real SDK telemetry into a receiver over OTLP/gRPC and OTLP/HTTP;
the OpenTelemetry Collector YAML files are checked for structure (every referenced component defined and used,
endpoints on the receiver's default ports, trace-id routing in the gateway, a JSON-parsing filelog pipeline)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from tests.support import query

CONFIG_DIR = Path(__file__).resolve().parents[1] / "collector-config"
YAML_CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
GRPC_PORT, HTTP_PORT = 4317, 4318  # the receiver's defaults
SIGNALS = {"traces", "logs", "metrics"}
ENV_REFERENCE = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]*)(:-[^}]*)?\}")


# -- structure of the OpenTelemetry Collector configs ---------------------------------------------------------


def load(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))


def expand_defaults(text: str) -> str:
    """What the collector reads when none of the ``${env:NAME:-default}`` variables is set."""
    return ENV_REFERENCE.sub(lambda match: (match.group(2) or ":-")[2:], text)


def test_the_expected_configs_are_shipped() -> None:
    assert [path.name for path in YAML_CONFIGS] == [
        "agent-otlp-grpc.yaml",
        "agent-otlp-http.yaml",
        "filelog-json.yaml",
        "gateway-loadbalancing.yaml",
    ]
    assert (CONFIG_DIR / "rotel-agent.env").is_file()


@pytest.mark.parametrize("path", YAML_CONFIGS, ids=lambda path: path.name)
def test_every_pipeline_component_is_defined_and_every_defined_component_used(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "each config opens with a comment saying what it is for and how to run it"
    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for match in ENV_REFERENCE.finditer(settings):
        assert match.group(2), f"${{env:{match.group(1)}}} has no default: the config would not start without it"
    config = yaml.safe_load(text)
    service = config["service"]
    pipelines = service["pipelines"]
    assert pipelines and {name.split("/")[0] for name in pipelines} <= SIGNALS
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipeline in pipelines.items():
        assert pipeline.get("receivers") and pipeline.get("exporters"), f"pipeline {name} needs receivers and exporters"
        for kind in used:
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{path.name}: {name} uses undefined {kind} {component}"
                used[kind].add(component)
    for kind, names in used.items():
        assert set(config.get(kind) or {}) == names, f"{path.name}: {kind} defined but not used"
    assert set(service.get("extensions", [])) == set(config.get("extensions") or {})
    # memory_limiter must run first so that it can refuse data before anything else holds it
    for pipeline in pipelines.values():
        processors = pipeline.get("processors", [])
        assert not processors or processors[0] == "memory_limiter"


def exporter_endpoints(config: dict) -> list[tuple[str, str]]:
    found = []
    for name, exporter in config["exporters"].items():
        if name.split("/")[0] == "loadbalancing":
            assert exporter["protocol"]["otlp"]["tls"]["insecure"] is True
            found += [(name, hostname) for hostname in exporter["resolver"]["static"]["hostnames"]]
        else:
            found.append((name, exporter["endpoint"]))
    return found


@pytest.mark.parametrize("path", YAML_CONFIGS, ids=lambda path: path.name)
def test_exporters_point_at_the_receivers_default_ports(path: Path) -> None:
    config = yaml.safe_load(expand_defaults(path.read_text(encoding="utf-8")))
    endpoints = exporter_endpoints(config)
    assert endpoints
    for name, endpoint in endpoints:
        kind = name.split("/")[0]
        if kind == "otlphttp":
            assert re.fullmatch(rf"http://[a-z0-9.-]+:{HTTP_PORT}", endpoint), endpoint
            assert config["exporters"][name]["encoding"] == "proto"
        else:
            assert kind in ("otlp", "loadbalancing"), name
            assert re.fullmatch(rf"[a-z0-9.-]+:{GRPC_PORT}", endpoint), endpoint
            assert not endpoint.startswith(("localhost", "127.")), "an agent exporting to its own listener loops"
        exporter = config["exporters"][name]
        retry = exporter.get("retry_on_failure") or exporter.get("protocol", {}).get("otlp", {}).get("retry_on_failure")
        if retry is not None:
            assert retry["enabled"] is True, "the receiver's overload answers ask exporters to retry"


def test_agents_listen_where_apps_export_by_default() -> None:
    for name in ("agent-otlp-grpc.yaml", "agent-otlp-http.yaml"):
        protocols = load(name)["receivers"]["otlp"]["protocols"]
        assert protocols["grpc"]["endpoint"] == f"localhost:{GRPC_PORT}"
        assert protocols["http"]["endpoint"] == f"localhost:{HTTP_PORT}"


def test_the_gateway_routes_by_trace_id_to_several_receivers() -> None:
    config = load("gateway-loadbalancing.yaml")
    by_trace = config["exporters"]["loadbalancing/traces"]
    assert by_trace["routing_key"] == "traceID"
    hostnames = by_trace["resolver"]["static"]["hostnames"]
    assert len(hostnames) >= 2 and len(set(hostnames)) == len(hostnames)
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["loadbalancing/traces"]
    assert pipelines["logs"]["exporters"] == ["loadbalancing/traces"]
    # traceID routing is for spans and logs; metrics are routed by service, to the same receivers
    metrics = config["exporters"]["loadbalancing/metrics"]
    assert metrics["routing_key"] == "service"
    assert metrics["resolver"]["static"]["hostnames"] == hostnames
    assert pipelines["metrics"]["exporters"] == ["loadbalancing/metrics"]


def test_filelog_parses_json_lines_into_what_the_classifier_reads() -> None:
    config = load("filelog-json.yaml")
    filelog = config["receivers"]["filelog"]
    assert filelog["include"] and filelog["storage"] == "file_storage"
    operators = {operator["type"]: operator for operator in filelog["operators"]}
    assert operators["json_parser"]["severity"]["parse_from"] == "attributes.level"
    assert operators["json_parser"]["timestamp"]["parse_from"] == "attributes.time"
    moves = {op["from"]: op["to"] for op in filelog["operators"] if op["type"] == "move"}
    assert moves["attributes.event"] == 'attributes["event.name"]'  # read by the classifier's name rules
    assert moves["attributes.message"] == "body"
    assert moves["attributes.service"] == 'resource["service.name"]'
    assert list(config["service"]["pipelines"]) == ["logs"]
    assert config["exporters"]["otlp/otel_events"]["sending_queue"]["storage"] == "file_storage"


# -- a real collector between the SDK and the receiver ----------------------------------------------------------


def rotel_agent() -> Path:
    rotel = pytest.importorskip("rotel", reason="the rotel collector (pip install rotel) is not installed")
    binary = Path(rotel.__file__).parent / "rotel-agent"
    if not os.access(binary, os.X_OK):
        pytest.skip(f"rotel is installed without its agent binary at {binary}")
    return binary


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key.startswith("ROTEL_"), line
            values[key] = value
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    for _ in range(300):  # bounded: 30 s
        if process.poll() is not None:
            raise AssertionError(f"rotel exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"rotel did not listen on {port}:\n{log.read_text()}")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    config = ReceiverConfig(
        db_path=tmp_path / "events.duckdb", grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0"
    )
    receiver = Receiver(config)
    receiver.start()
    yield receiver
    receiver.shutdown()


def send_telemetry(grpc_port: int, http_port: int, service: str) -> None:
    """Real SDK exporters: spans and metrics over OTLP/gRPC, log records over OTLP/HTTP."""
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True))
    )
    tracer = tracer_provider.get_tracer("collector.tests")
    with tracer.start_as_current_span("checkout.submit"), tracer.start_as_current_span("payment.charge") as failing:
        failing.set_status(Status(StatusCode.ERROR, "card declined"))
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/logs"))
    )
    logger_provider.get_logger("collector.tests").emit(
        severity_number=SeverityNumber.INFO, body="order placed", event_name="session_start"
    )
    logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter_provider.get_meter("collector.tests").create_counter("orders").add(7)
    meter_provider.shutdown()  # exports once more on the way out


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_rotel_forwards_sdk_telemetry_into_the_receiver(receiver: Receiver, tmp_path: Path, protocol: str) -> None:
    binary = rotel_agent()
    ports = receiver.ports
    assert ports is not None and ports.http is not None
    agent_grpc, agent_http = free_port(), free_port()
    environment = read_env_file(CONFIG_DIR / "rotel-agent.env")
    assert environment["ROTEL_OTLP_EXPORTER_ENDPOINT"].endswith(f":{GRPC_PORT}")
    # Only addresses change for the test: loopback ports instead of the defaults.
    receiver_port = ports.grpc if protocol == "grpc" else ports.http
    environment.update(
        ROTEL_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{agent_grpc}",
        ROTEL_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{agent_http}",
        ROTEL_OTLP_EXPORTER_PROTOCOL=protocol,
        ROTEL_OTLP_EXPORTER_ENDPOINT=f"http://127.0.0.1:{receiver_port}",
        ROTEL_PID_FILE=str(tmp_path / "rotel.pid"),
    )
    log = tmp_path / "rotel.log"
    with log.open("wb") as output:
        agent = subprocess.Popen(
            [str(binary), "start"],
            env={"PATH": os.environ.get("PATH", ""), **environment},
            stdout=output,
            stderr=output,
        )
    try:
        wait_listening(agent_grpc, agent, log)
        wait_listening(agent_http, agent, log)
        service = f"via-rotel-{protocol}"
        send_telemetry(agent_grpc, agent_http, service)
        spans: list[tuple] = []
        for _ in range(300):  # bounded: rotel batches for 200 ms, the receiver stores within a second
            spans = query(receiver, f"SELECT name, category::VARCHAR FROM spans WHERE service_name = '{service}'")
            points = query(receiver, f"SELECT value FROM metric_points WHERE service_name = '{service}'")
            logs = query(receiver, f"SELECT body, category::VARCHAR FROM logs WHERE service_name = '{service}'")
            if len(spans) == 2 and points and logs:
                break
            time.sleep(0.1)
        assert sorted(spans) == [("checkout.submit", "system"), ("payment.charge", "critical")], log.read_text()
        assert logs == [("order placed", "user_activity")]
        assert points == [(7.0,)]
        assert receiver.counters.snapshot()["rejected"] == {
            reason: 0 for reason in receiver.counters.snapshot()["rejected"]
        }
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
