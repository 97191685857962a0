"""Regenerate the checked-in gRPC code of ``proto/otel_events/v1/*.proto`` into ``otel_events/_proto``.

Run from the project root: ``python -m otel_events.stream.protogen`` (needs grpcio-tools). The generated modules
are checked in so that installing otel_events needs no code generator; ``tests/stream/test_protogen.py`` fails
when they are stale.

protoc names modules after the ``.proto`` path (``otel_events/v1/events.proto`` -> ``otel_events.v1.events_pb2``),
which would collide with the ``otel_events`` package itself, so the modules are written flat into
``otel_events/_proto`` and the one cross-module import is rewritten to match.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = PROJECT_ROOT / "proto"
PROTO_PACKAGE_DIR = Path("otel_events") / "v1"
OUTPUT_DIR = PROJECT_ROOT / "otel_events" / "_proto"
OUTPUT_PACKAGE = "otel_events._proto"

_PACKAGE_IMPORT = re.compile(r"^from otel_events\.v1 import ", re.MULTILINE)


def generate(output_dir: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Generate ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` for every proto file into ``output_dir``.

    Returns:
        The written files, sorted.

    Raises:
        RuntimeError: when protoc fails (its messages are in the exception).
    """
    from grpc_tools import protoc  # a development dependency: imported only when regenerating

    protos = sorted(str(path.relative_to(proto_root)) for path in (proto_root / PROTO_PACKAGE_DIR).glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto shipped with grpcio-tools
    with tempfile.TemporaryDirectory() as scratch:
        arguments = [
            "protoc",
            f"-I{proto_root}",
            f"-I{include}",
            f"--python_out={scratch}",
            f"--pyi_out={scratch}",
            f"--grpc_python_out={scratch}",
            *protos,
        ]
        if protoc.main(arguments) != 0:
            raise RuntimeError(f"protoc failed on {', '.join(protos)}")
        output_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for generated in sorted((Path(scratch) / PROTO_PACKAGE_DIR).iterdir()):
            text = _PACKAGE_IMPORT.sub(f"from {OUTPUT_PACKAGE} import ", generated.read_text(encoding="utf-8"))
            target = output_dir / generated.name
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate into ``otel_events/_proto`` (or ``--out DIR``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR, help=f"output directory (default {OUTPUT_DIR})")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
