from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RowFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROW_FORMAT_UNSPECIFIED: _ClassVar[RowFormat]
    ROW_FORMAT_ARROW: _ClassVar[RowFormat]
    ROW_FORMAT_JSON: _ClassVar[RowFormat]
ROW_FORMAT_UNSPECIFIED: RowFormat
ROW_FORMAT_ARROW: RowFormat
ROW_FORMAT_JSON: RowFormat

class QueryRequest(_message.Message):
    __slots__ = ("sql", "analysis", "format", "rows_per_message", "parameters_json")
    SQL_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROWS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    sql: str
    analysis: AnalysisCall
    format: RowFormat
    rows_per_message: int
    parameters_json: str
    def __init__(self, sql: _Optional[str] = ..., analysis: _Optional[_Union[AnalysisCall, _Mapping]] = ..., format: _Optional[_Union[RowFormat, str]] = ..., rows_per_message: _Optional[int] = ..., parameters_json: _Optional[str] = ...) -> None: ...

class AnalysisCall(_message.Message):
    __slots__ = ("name", "parameters_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters_json: str
    def __init__(self, name: _Optional[str] = ..., parameters_json: _Optional[str] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("arrow_ipc", "json_rows", "analysis")
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    JSON_ROWS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc: bytes
    json_rows: JsonRows
    analysis: AnalysisResult
    def __init__(self, arrow_ipc: _Optional[bytes] = ..., json_rows: _Optional[_Union[JsonRows, _Mapping]] = ..., analysis: _Optional[_Union[AnalysisResult, _Mapping]] = ...) -> None: ...

class JsonRows(_message.Message):
    __slots__ = ("columns", "rows")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    rows: str
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., rows: _Optional[str] = ...) -> None: ...

class AnalysisResult(_message.Message):
    __slots__ = ("result_json", "gate_failures")
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    GATE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    gate_failures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result_json: _Optional[str] = ..., gate_failures: _Optional[_Iterable[str]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("uptime_seconds", "received_requests", "received_items", "received_bytes", "stored_records", "stored_items", "store_errors", "rejected", "wal_bytes", "queue_depth", "store_latency_p50_ms", "store_latency_p99_ms", "tail_subscribers", "status_json")
    class RejectedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    STORED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    STORE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    WAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    STORE_LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    STORE_LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    TAIL_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_JSON_FIELD_NUMBER: _ClassVar[int]
    uptime_seconds: float
    received_requests: int
    received_items: int
    received_bytes: int
    stored_records: int
    stored_items: int
    store_errors: int
    rejected: _containers.ScalarMap[str, int]
    wal_bytes: int
    queue_depth: int
    store_latency_p50_ms: float
    store_latency_p99_ms: float
    tail_subscribers: int
    status_json: str
    def __init__(self, uptime_seconds: _Optional[float] = ..., received_requests: _Optional[int] = ..., received_items: _Optional[int] = ..., received_bytes: _Optional[int] = ..., stored_records: _Optional[int] = ..., stored_items: _Optional[int] = ..., store_errors: _Optional[int] = ..., rejected: _Optional[_Mapping[str, int]] = ..., wal_bytes: _Optional[int] = ..., queue_depth: _Optional[int] = ..., store_latency_p50_ms: _Optional[float] = ..., store_latency_p99_ms: _Optional[float] = ..., tail_subscribers: _Optional[int] = ..., status_json: _Optional[str] = ...) -> None: ...

class TailRequest(_message.Message):
    __slots__ = ("filter", "buffer_size")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    BUFFER_SIZE_FIELD_NUMBER: _ClassVar[int]
    filter: str
    buffer_size: int
    def __init__(self, filter: _Optional[str] = ..., buffer_size: _Optional[int] = ...) -> None: ...

class TailResponse(_message.Message):
    __slots__ = ("dropped", "items")
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    dropped: int
    items: _containers.RepeatedCompositeFieldContainer[TailItem]
    def __init__(self, dropped: _Optional[int] = ..., items: _Optional[_Iterable[_Union[TailItem, _Mapping]]] = ...) -> None: ...

class TailItem(_message.Message):
    __slots__ = ("kind", "time_unix_nano", "trace_id", "span_id", "service_name", "name", "body", "category", "seq", "tenant")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    time_unix_nano: int
    trace_id: str
    span_id: str
    service_name: str
    name: str
    body: str
    category: str
    seq: int
    tenant: str
    def __init__(self, kind: _Optional[str] = ..., time_unix_nano: _Optional[int] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., service_name: _Optional[str] = ..., name: _Optional[str] = ..., body: _Optional[str] = ..., category: _Optional[str] = ..., seq: _Optional[int] = ..., tenant: _Optional[str] = ...) -> None: ...
