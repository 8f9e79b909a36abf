"""What tracing needs to know: `TelemetryConfig` (the shape `tau.config`'s `TelemetrySpec` has) and its defaults.

Pure: no I/O, no environment. The config layer resolves the `telemetry` settings table and the standard variables
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`,
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_SDK_DISABLED`) into one of these;
`TelemetrySettings` is the same shape as a plain dataclass, for embedding and tests.

Tracing is on only when `enabled` and an endpoint is set (`traces_endpoint`, else `endpoint`). `endpoint` is a base
URL as in `OTEL_EXPORTER_OTLP_ENDPOINT` (HTTP appends `/v1/traces`); `traces_endpoint` is used as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["DEFAULT_TIMEOUT", "PROTOCOLS", "TelemetryConfig", "TelemetrySettings", "traces_url", "tracing_on"]

PROTOCOLS: tuple[str, ...] = ("http/protobuf", "grpc")
DEFAULT_TIMEOUT = 3.0  # seconds per export: what a dead collector can add to the end of `tau run`


class TelemetryConfig(Protocol):
    @property
    def enabled(self) -> bool: ...

    @property
    def endpoint(self) -> str | None: ...

    @property
    def traces_endpoint(self) -> str | None: ...

    @property
    def protocol(self) -> str: ...

    @property
    def service_name(self) -> str: ...

    @property
    def resource_attributes(self) -> Mapping[str, str]: ...

    @property
    def include_content(self) -> bool: ...

    @property
    def timeout(self) -> float: ...


@dataclass(frozen=True)
class TelemetrySettings:
    enabled: bool = True
    endpoint: str | None = None
    traces_endpoint: str | None = None
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    service_name: str = "tau"
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    include_content: bool = False
    timeout: float = DEFAULT_TIMEOUT


def tracing_on(config: TelemetryConfig | None) -> bool:
    return config is not None and config.enabled and bool(config.traces_endpoint or config.endpoint)


def traces_url(config: TelemetryConfig) -> str:
    """Where OTLP/HTTP sends spans: `traces_endpoint` as given, else `<endpoint>/v1/traces`."""
    if config.traces_endpoint:
        return config.traces_endpoint
    return (config.endpoint or "").rstrip("/") + "/v1/traces"
