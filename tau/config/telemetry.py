"""The `telemetry` settings table, the OpenTelemetry variables that feed it, and the process-level resolution.

Table (`config.toml`, settings layers; a repository's own layers cannot set it: `trust` in `trust_keys`, so a cloned
repository cannot send traces, prompts included, to an endpoint of its choosing):

    [telemetry]
    endpoint = "http://127.0.0.1:4318"   # OTLP base URL (HTTP appends /v1/traces); unset: tracing off
    traces_endpoint = "..."             # the full traces URL instead (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    protocol = "http/protobuf"          # or "grpc" (optional extra `tau[otlp-grpc]`)
    service_name = "tau"
    resource_attributes = { "deployment.environment" = "ci" }   # or "k=v,k2=v2"
    include_content = false             # prompts, completions, tool arguments and output in spans
    timeout = "3s"                      # per export: the longest a dead collector delays the end of a run
    enabled = true                      # false: off even with an endpoint
    metrics_public = false              # `tau serve`: /metrics without the bearer token

The standard variables are a layer above the config files (like `TAU_*`): `OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`
(`k=v` pairs, comma-separated, percent-encoded values), `OTEL_EXPORTER_OTLP_TIMEOUT` (seconds, as the Python SDK reads
it). Headers and certificates stay in their own `OTEL_EXPORTER_OTLP_*` variables (secrets do not belong in config
files); the exporter reads them itself.

`TelemetrySpec` is what a job carries (`JobSpec.telemetry`, never stored with a session: like credentials it is
re-resolved from the current environment on resume) and what `tau.telemetry.install` takes. `load_telemetry(env,
cwd)` resolves it without a job (`tau serve`: the server's own settings decide where it exports).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["OTEL_VARS", "TelemetryLayer", "TelemetrySpec", "load_telemetry", "parse_resource_attributes"]

# standard variable -> its flat key (`layers.FLAG_PATHS`)
OTEL_VARS: dict[str, str] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "otel_endpoint",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "otel_traces_endpoint",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "otel_protocol",
    "OTEL_SERVICE_NAME": "otel_service_name",
    "OTEL_RESOURCE_ATTRIBUTES": "otel_resource_attributes",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "otel_timeout",
}
OTEL_PATHS: dict[str, tuple[str, ...]] = {
    "otel_endpoint": ("telemetry", "endpoint"),
    "otel_traces_endpoint": ("telemetry", "traces_endpoint"),
    "otel_protocol": ("telemetry", "protocol"),
    "otel_service_name": ("telemetry", "service_name"),
    "otel_resource_attributes": ("telemetry", "resource_attributes"),
    "otel_timeout": ("telemetry", "timeout"),
}
_MAX_ATTRIBUTES = 64


def parse_resource_attributes(value: object) -> object:
    """`k=v,k2=v2` (OTEL_RESOURCE_ATTRIBUTES: values percent-decoded, blank pairs skipped) as a dict; a table passes
    through. A pair without `=` or with an empty key is an error naming it."""
    if not isinstance(value, str):
        return value
    found: dict[str, str] = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        key, sep, item = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"invalid resource attribute {pair.strip()[:60]!r}: expected key=value")
        found[key.strip()] = urllib.parse.unquote(item.strip())
    return found


def _bounded(attributes: dict[str, str]) -> dict[str, str]:
    if len(attributes) > _MAX_ATTRIBUTES:
        raise ValueError(f"at most {_MAX_ATTRIBUTES} resource attributes")
    for key, value in attributes.items():
        if len(key) > 255 or len(value) > 4096:
            raise ValueError(f"resource attribute {key[:60]!r} is too long")
    return attributes


def _endpoint(value: str | None) -> str | None:
    from tau.config.settings import http_url_problem  # settings imports this module: import when validating

    problem = None if not value else http_url_problem(value)
    if problem is not None:
        raise ValueError(f"endpoint {value[:80]!r} {problem}" if value else problem)
    return value or None


def _seconds(value: object) -> object:
    from tau.config.settings import parse_duration

    return parse_duration(value)


Endpoint = Annotated[str | None, AfterValidator(_endpoint)]
ResourceAttributes = Annotated[dict[str, str], BeforeValidator(parse_resource_attributes), AfterValidator(_bounded)]
Timeout = Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=300, allow_inf_nan=False)]
ServiceName = Annotated[str, Field(min_length=1, max_length=255)]


class TelemetryLayer(BaseModel):
    """The `telemetry` table of one settings layer (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    enabled: bool = True
    endpoint: Endpoint = None
    traces_endpoint: Endpoint = None
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    service_name: ServiceName = "tau"
    resource_attributes: ResourceAttributes = {}
    include_content: bool = False
    timeout: Timeout = 3.0
    metrics_public: bool = False


class TelemetrySpec(BaseModel):
    """Resolved telemetry settings (`tau.telemetry.TelemetryConfig`); tracing is on only with an endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    endpoint: str | None = None
    traces_endpoint: str | None = None
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    service_name: str = "tau"
    resource_attributes: dict[str, str] = Field(default_factory=dict)
    include_content: bool = False
    timeout: float = 3.0
    metrics_public: bool = False


def load_telemetry(env: Mapping[str, str], cwd: Path) -> TelemetrySpec:
    """The telemetry settings of a process without a job (`tau serve`): user config < project config (trusted
    only) < settings files < `OTEL_*` variables, resolved as a job's would be. ConfigError (exit 2) when malformed."""
    from tau.config.assemble import assemble_layers
    from tau.config.layers import FLAGS, FRONTMATTER, build_layer, env_layer, merge_layers

    cwd = cwd.resolve()
    assembly = assemble_layers(
        front=build_layer(FRONTMATTER, "<none>", cwd, {}),
        env_layer=env_layer(env, cwd),
        flags_layer=build_layer(FLAGS, "command line", cwd, {}),
        env=env,
        cwd=cwd,
    )
    return TelemetrySpec.model_validate(merge_layers(assembly.layers).get("telemetry", {}))
