"""The checked-in code in otel_events/_proto matches proto/ (regenerate: python -m otel_events.stream.protogen)."""

from __future__ import annotations

from pathlib import Path

from otel_events.stream import protogen


def test_checked_in_code_is_generated_from_the_current_proto_files(tmp_path: Path) -> None:
    written = protogen.generate(tmp_path)

    assert {path.name for path in written} == {"events_pb2.py", "events_pb2.pyi", "events_pb2_grpc.py"}
    for path in written:
        checked_in = protogen.OUTPUT_DIR / path.name
        assert checked_in.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{checked_in} is stale: run `python -m otel_events.stream.protogen`"
        )


def test_generated_imports_point_into_the_package(tmp_path: Path) -> None:
    grpc_module = next(path for path in protogen.generate(tmp_path) if path.name == "events_pb2_grpc.py")

    assert "from otel_events._proto import events_pb2" in grpc_module.read_text(encoding="utf-8")
    assert "from otel_events.v1" not in grpc_module.read_text(encoding="utf-8")
