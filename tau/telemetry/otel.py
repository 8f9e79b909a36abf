"""OpenTelemetry behind the `Tracer` port: the SDK's `TracerProvider`, a batch span processor, the OTLP exporter.

Imported only when tracing is switched on (`tau.telemetry.install`), so it may import the SDK at module level; nothing
else in tau imports it except tests. `start(config)` builds the provider for a `TelemetryConfig` (see
`tau.telemetry.settings`) and returns an `OtelTracer`; `install` makes it the process's tracer, the global OpenTelemetry
tracer provider (the MCP SDK and FastMCP trace their calls through it) and registers its shutdown (which flushes the
batch) at exit.

Export: OTLP over HTTP/protobuf (`http/protobuf`, the default; `<endpoint>/v1/traces`, or `traces_endpoint` as given)
or gRPC (`grpc`; the exporter is an optional extra and not in the single binary: asking for it without it is a
ConfigError). `timeout` bounds each export and so the delay a dead collector adds to the end of a process. Headers,
certificates and compression come from the standard `OTEL_EXPORTER_OTLP_*` variables, read by the exporter itself.

Spans: tau's own spans come from the instrumentation scope `tau`; the agent's (`invoke_agent`, `chat`, `execute_tool`)
from pydantic-ai's `Instrumentation` capability (`tau.telemetry.instrumentation`) with `include_content` as
configured. Content attributes (`Span.content`) are dropped unless `include_content` is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tau.errors import ConfigError
from tau.telemetry.port import Attributes, Env, R
from tau.telemetry.settings import TelemetryConfig, traces_url

if TYPE_CHECKING:
    from pydantic_ai.capabilities import AbstractCapability

__all__ = ["OtelSpan", "OtelTracer", "remote_context", "start"]

_PROPAGATOR = TraceContextTextMapPropagator()
_MAX_CONTENT = 4096  # characters of one content attribute (a command line): enough to read, bounded for export


class OtelSpan:
    """A `Span` over an OpenTelemetry span."""

    __slots__ = ("_content", "_span")

    def __init__(self, span: trace.Span, content: bool) -> None:
        self._span = span
        self._content = content

    def set(self, attributes: Attributes) -> None:
        self._span.set_attributes(dict(attributes))

    def content(self, attributes: Attributes) -> None:
        if self._content:
            self._span.set_attributes({k: v[:_MAX_CONTENT] if isinstance(v, str) else v for k, v in attributes.items()})

    def fail(self, description: str) -> None:
        self._span.set_status(Status(StatusCode.ERROR, description))

    def propagate(self, env: Env) -> Env:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(self._span))
        if "traceparent" not in carrier:  # a span that is not recording (no valid context): nothing to continue
            return env
        extra = {"TRACEPARENT": carrier["traceparent"]}
        if carrier.get("tracestate"):
            extra["TRACESTATE"] = carrier["tracestate"]
        return {**(env or {}), **extra}

    def exited(self, result: R) -> R:
        self._span.set_attribute("process.exit.code", result.exit_code)
        return result


def remote_context(traceparent: str | None, tracestate: str | None = None) -> otel_context.Context | None:
    """The context whose parent is the remote span `traceparent` names; None when it is absent or malformed (a
    header or variable from outside is hostile: anything but a valid W3C traceparent is ignored)."""
    if not traceparent or len(traceparent) > 256:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate and len(tracestate) <= 512:
        carrier["tracestate"] = tracestate
    found = _PROPAGATOR.extract(carrier)
    if not trace.get_current_span(found).get_span_context().is_valid:
        return None
    return found


class OtelTracer:
    """The `Tracer` of a configured process (see the module docstring)."""

    def __init__(self, provider: TracerProvider, *, include_content: bool, version: str) -> None:
        self.provider = provider
        self.include_content = include_content
        self._tracer = provider.get_tracer("tau", version)
        self._capabilities: list[AbstractCapability[Any]] | None = None
        self._closed = False

    @contextmanager
    def span(self, name: str, attributes: Attributes | None = None) -> Iterator[OtelSpan]:
        with self._tracer.start_as_current_span(name, attributes=dict(attributes) if attributes else None) as span:
            yield OtelSpan(span, self.include_content)

    @contextmanager
    def command(self, backend: str, command: str | Sequence[str]) -> Iterator[OtelSpan]:
        with self.span("tau.command", {"tau.command.backend": backend}) as span:
            line = command if isinstance(command, str) else " ".join(str(part) for part in command)
            span.content({"process.command_line": line})
            yield span

    def current(self) -> OtelSpan:
        return OtelSpan(trace.get_current_span(), self.include_content)

    @contextmanager
    def incoming(self, traceparent: str | None, tracestate: str | None = None) -> Iterator[None]:
        found = remote_context(traceparent, tracestate)
        if found is None:
            yield
            return
        token = otel_context.attach(found)
        try:
            yield
        finally:
            otel_context.detach(token)

    def capabilities(self) -> Sequence[AbstractCapability[Any]]:
        if self._capabilities is None:
            from tau.telemetry.instrumentation import agent_instrumentation

            self._capabilities = [agent_instrumentation(self.provider, include_content=self.include_content)]
        return self._capabilities

    def shutdown(self) -> None:
        """Flush what is batched and stop exporting (bounded by the exporter's timeout). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.provider.shutdown()


def _exporter(config: TelemetryConfig) -> SpanExporter:
    if config.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
        except ImportError:
            raise ConfigError(
                "the OTLP gRPC exporter is not installed in this tau (pip install 'tau[otlp-grpc]'); "
                "use telemetry.protocol = 'http/protobuf'",
                field="telemetry.protocol",
            ) from None
        target = config.traces_endpoint or config.endpoint or ""
        return GrpcExporter(endpoint=target, insecure=target.startswith("http://"), timeout=config.timeout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=traces_url(config), timeout=config.timeout)


def resource_of(config: TelemetryConfig, version: str) -> Resource:
    """The process's resource: the SDK's identity, `service.name`/`service.version`, then the configured attributes
    (`OTEL_RESOURCE_ATTRIBUTES` or `telemetry.resource_attributes`; they win)."""
    attributes: dict[str, str] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "service.name": config.service_name or "tau",
        "service.version": version,
    }
    attributes.update(_clean(config.resource_attributes))
    return Resource(attributes)


def _clean(attributes: Mapping[str, str]) -> dict[str, str]:
    return {str(key)[:128]: str(value)[:1024] for key, value in list(attributes.items())[:64]}


def start(
    config: TelemetryConfig, *, version: str, exporter: SpanExporter | None = None, set_global: bool = True
) -> OtelTracer:
    """A tracer exporting to `config`'s endpoint (or to `exporter`). `set_global` also makes its provider the global
    OpenTelemetry tracer provider (once per process: what libraries that trace on their own use)."""
    provider = TracerProvider(resource=resource_of(config, version))
    provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(config)))
    if set_global:
        trace.set_tracer_provider(provider)
    return OtelTracer(provider, include_content=config.include_content, version=version)
