# ruff: noqa
# fmt: off
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATUS_UNSPECIFIED: _ClassVar[SessionStatus]
    SESSION_STATUS_ACTIVE: _ClassVar[SessionStatus]
    SESSION_STATUS_RUNNING: _ClassVar[SessionStatus]
    SESSION_STATUS_COMPLETED: _ClassVar[SessionStatus]
    SESSION_STATUS_ERROR: _ClassVar[SessionStatus]
    SESSION_STATUS_SUSPENDED: _ClassVar[SessionStatus]
    SESSION_STATUS_AWAITING_APPROVAL: _ClassVar[SessionStatus]
    SESSION_STATUS_AWAITING_INPUT: _ClassVar[SessionStatus]
    SESSION_STATUS_AWAITING_PLAN_APPROVAL: _ClassVar[SessionStatus]
    SESSION_STATUS_CANCELLED: _ClassVar[SessionStatus]

class PlanDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_DECISION_UNSPECIFIED: _ClassVar[PlanDecision]
    PLAN_DECISION_APPROVE: _ClassVar[PlanDecision]
    PLAN_DECISION_REJECT: _ClassVar[PlanDecision]
SESSION_STATUS_UNSPECIFIED: SessionStatus
SESSION_STATUS_ACTIVE: SessionStatus
SESSION_STATUS_RUNNING: SessionStatus
SESSION_STATUS_COMPLETED: SessionStatus
SESSION_STATUS_ERROR: SessionStatus
SESSION_STATUS_SUSPENDED: SessionStatus
SESSION_STATUS_AWAITING_APPROVAL: SessionStatus
SESSION_STATUS_AWAITING_INPUT: SessionStatus
SESSION_STATUS_AWAITING_PLAN_APPROVAL: SessionStatus
SESSION_STATUS_CANCELLED: SessionStatus
PLAN_DECISION_UNSPECIFIED: PlanDecision
PLAN_DECISION_APPROVE: PlanDecision
PLAN_DECISION_REJECT: PlanDecision

class ContextEntry(_message.Message):
    __slots__ = ("key", "content", "content_type")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    key: str
    content: str
    content_type: str
    def __init__(self, key: _Optional[str] = ..., content: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class JobOptions(_message.Message):
    __slots__ = ("instructions", "tools", "max_turns", "max_tool_calls", "max_tokens", "max_usd", "timeout", "idle_timeout", "vars", "output_schema", "mcp_servers", "strict_mcp")
    class VarsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_USD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    VARS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    STRICT_MCP_FIELD_NUMBER: _ClassVar[int]
    instructions: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    max_turns: int
    max_tool_calls: int
    max_tokens: int
    max_usd: float
    timeout: float
    idle_timeout: float
    vars: _containers.ScalarMap[str, str]
    output_schema: _struct_pb2.Struct
    mcp_servers: _containers.RepeatedCompositeFieldContainer[McpServer]
    strict_mcp: bool
    def __init__(self, instructions: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., max_turns: _Optional[int] = ..., max_tool_calls: _Optional[int] = ..., max_tokens: _Optional[int] = ..., max_usd: _Optional[float] = ..., timeout: _Optional[float] = ..., idle_timeout: _Optional[float] = ..., vars: _Optional[_Mapping[str, str]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., mcp_servers: _Optional[_Iterable[_Union[McpServer, _Mapping]]] = ..., strict_mcp: _Optional[bool] = ...) -> None: ...

class McpServer(_message.Message):
    __slots__ = ("name", "command", "args", "env", "url", "headers", "type")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    command: str
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    url: str
    headers: _containers.ScalarMap[str, str]
    type: str
    def __init__(self, name: _Optional[str] = ..., command: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., type: _Optional[str] = ...) -> None: ...

class McpServerStatus(_message.Message):
    __slots__ = ("name", "status", "tools", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    tools: int
    error: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., tools: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("host", "docker", "container")
    HOST_FIELD_NUMBER: _ClassVar[int]
    DOCKER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    host: HostEnvironment
    docker: DockerEnvironment
    container: ContainerEnvironment
    def __init__(self, host: _Optional[_Union[HostEnvironment, _Mapping]] = ..., docker: _Optional[_Union[DockerEnvironment, _Mapping]] = ..., container: _Optional[_Union[ContainerEnvironment, _Mapping]] = ...) -> None: ...

class HostEnvironment(_message.Message):
    __slots__ = ("workspace",)
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    def __init__(self, workspace: _Optional[str] = ...) -> None: ...

class DockerEnvironment(_message.Message):
    __slots__ = ("image", "workspace")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    image: str
    workspace: str
    def __init__(self, image: _Optional[str] = ..., workspace: _Optional[str] = ...) -> None: ...

class ContainerEnvironment(_message.Message):
    __slots__ = ("container", "workspace")
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    container: str
    workspace: str
    def __init__(self, container: _Optional[str] = ..., workspace: _Optional[str] = ...) -> None: ...

class Permissions(_message.Message):
    __slots__ = ("mode", "allow", "ask", "deny", "on_ask")
    MODE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    DENY_FIELD_NUMBER: _ClassVar[int]
    ON_ASK_FIELD_NUMBER: _ClassVar[int]
    mode: str
    allow: _containers.RepeatedScalarFieldContainer[str]
    ask: _containers.RepeatedScalarFieldContainer[str]
    deny: _containers.RepeatedScalarFieldContainer[str]
    on_ask: str
    def __init__(self, mode: _Optional[str] = ..., allow: _Optional[_Iterable[str]] = ..., ask: _Optional[_Iterable[str]] = ..., deny: _Optional[_Iterable[str]] = ..., on_ask: _Optional[str] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ("context", "job_text", "job", "preset", "model", "environment", "permissions", "session_id", "labels", "preset_version", "conversation_id")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    JOB_TEXT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PRESET_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    context: _containers.RepeatedCompositeFieldContainer[ContextEntry]
    job_text: str
    job: JobOptions
    preset: str
    model: str
    environment: Environment
    permissions: Permissions
    session_id: str
    labels: _containers.ScalarMap[str, str]
    preset_version: int
    conversation_id: str
    def __init__(self, context: _Optional[_Iterable[_Union[ContextEntry, _Mapping]]] = ..., job_text: _Optional[str] = ..., job: _Optional[_Union[JobOptions, _Mapping]] = ..., preset: _Optional[str] = ..., model: _Optional[str] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., permissions: _Optional[_Union[Permissions, _Mapping]] = ..., session_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., preset_version: _Optional[int] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session_id", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session: Session
    def __init__(self, session_id: _Optional[str] = ..., session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests", "tool_calls", "cost_usd")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    requests: int
    tool_calls: int
    cost_usd: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., requests: _Optional[int] = ..., tool_calls: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "status", "head_snapshot_id", "usage", "model", "runs", "last_seq", "terminal_reason", "create_time", "update_time", "labels", "parent_session_id", "pending", "conversation_id", "preset", "preset_version", "mcp_servers")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEAD_SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PARENT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    PRESET_VERSION_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    status: SessionStatus
    head_snapshot_id: str
    usage: Usage
    model: str
    runs: int
    last_seq: int
    terminal_reason: str
    create_time: str
    update_time: str
    labels: _containers.ScalarMap[str, str]
    parent_session_id: str
    pending: _containers.RepeatedCompositeFieldContainer[PendingRequest]
    conversation_id: str
    preset: str
    preset_version: int
    mcp_servers: _containers.RepeatedCompositeFieldContainer[McpServerStatus]
    def __init__(self, session_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., head_snapshot_id: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., model: _Optional[str] = ..., runs: _Optional[int] = ..., last_seq: _Optional[int] = ..., terminal_reason: _Optional[str] = ..., create_time: _Optional[str] = ..., update_time: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., parent_session_id: _Optional[str] = ..., pending: _Optional[_Iterable[_Union[PendingRequest, _Mapping]]] = ..., conversation_id: _Optional[str] = ..., preset: _Optional[str] = ..., preset_version: _Optional[int] = ..., mcp_servers: _Optional[_Iterable[_Union[McpServerStatus, _Mapping]]] = ...) -> None: ...

class PendingRequest(_message.Message):
    __slots__ = ("request_id", "permission", "clarification", "plan")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    CLARIFICATION_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    permission: PermissionRequest
    clarification: ClarificationRequest
    plan: Plan
    def __init__(self, request_id: _Optional[str] = ..., permission: _Optional[_Union[PermissionRequest, _Mapping]] = ..., clarification: _Optional[_Union[ClarificationRequest, _Mapping]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "status", "labels", "conversation_id", "preset", "since")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: SessionStatus
    labels: _containers.ScalarMap[str, str]
    conversation_id: str
    preset: str
    since: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., conversation_id: _Optional[str] = ..., preset: _Optional[str] = ..., since: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ForkSessionRequest(_message.Message):
    __slots__ = ("session_id", "snapshot_id", "new_session_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    snapshot_id: str
    new_session_id: str
    def __init__(self, session_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., new_session_id: _Optional[str] = ...) -> None: ...

class ForkSessionResponse(_message.Message):
    __slots__ = ("session_id", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session: Session
    def __init__(self, session_id: _Optional[str] = ..., session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class InjectContextRequest(_message.Message):
    __slots__ = ("session_id", "entries")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    entries: _containers.RepeatedCompositeFieldContainer[ContextEntry]
    def __init__(self, session_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[ContextEntry, _Mapping]]] = ...) -> None: ...

class InjectContextResponse(_message.Message):
    __slots__ = ("delivered", "queued")
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    queued: int
    def __init__(self, delivered: _Optional[bool] = ..., queued: _Optional[int] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("cancelled", "status")
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    status: SessionStatus
    def __init__(self, cancelled: _Optional[bool] = ..., status: _Optional[_Union[SessionStatus, str]] = ...) -> None: ...

class RespondRequest(_message.Message):
    __slots__ = ("session_id", "request_id", "approval", "answer", "plan")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    approval: Approval
    answer: Answer
    plan: PlanResponse
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., approval: _Optional[_Union[Approval, _Mapping]] = ..., answer: _Optional[_Union[Answer, _Mapping]] = ..., plan: _Optional[_Union[PlanResponse, _Mapping]] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("approved", "message")
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    message: str
    def __init__(self, approved: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class PlanResponse(_message.Message):
    __slots__ = ("decision", "feedback")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    decision: PlanDecision
    feedback: str
    def __init__(self, decision: _Optional[_Union[PlanDecision, str]] = ..., feedback: _Optional[str] = ...) -> None: ...

class RespondResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: SessionStatus
    def __init__(self, status: _Optional[_Union[SessionStatus, str]] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("session_id", "prompt", "idempotency_key", "conversation_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    prompt: str
    idempotency_key: str
    conversation_id: str
    def __init__(self, session_id: _Optional[str] = ..., prompt: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ("seq", "token", "tool_call", "tool_result", "status", "error", "started", "turn", "message", "permission_decision", "permission_request", "clarification_request", "plan", "usage", "snapshot", "notice", "final", "event_json", "run")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_DECISION_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CLARIFICATION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    EVENT_JSON_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    seq: int
    token: Token
    tool_call: ToolCall
    tool_result: ToolResult
    status: Status
    error: Error
    started: Started
    turn: Turn
    message: Message
    permission_decision: PermissionDecision
    permission_request: PermissionRequest
    clarification_request: ClarificationRequest
    plan: Plan
    usage: Usage
    snapshot: Snapshot
    notice: Notice
    final: Final
    event_json: str
    run: int
    def __init__(self, seq: _Optional[int] = ..., token: _Optional[_Union[Token, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResult, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., started: _Optional[_Union[Started, _Mapping]] = ..., turn: _Optional[_Union[Turn, _Mapping]] = ..., message: _Optional[_Union[Message, _Mapping]] = ..., permission_decision: _Optional[_Union[PermissionDecision, _Mapping]] = ..., permission_request: _Optional[_Union[PermissionRequest, _Mapping]] = ..., clarification_request: _Optional[_Union[ClarificationRequest, _Mapping]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., final: _Optional[_Union[Final, _Mapping]] = ..., event_json: _Optional[str] = ..., run: _Optional[int] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("session_id", "after_seq", "follow")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_seq: int
    follow: bool
    def __init__(self, session_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("seq", "token", "tool_call", "tool_result", "status", "error", "started", "turn", "message", "permission_decision", "permission_request", "clarification_request", "plan", "usage", "snapshot", "notice", "final", "event_json", "run")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_DECISION_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CLARIFICATION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    EVENT_JSON_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    seq: int
    token: Token
    tool_call: ToolCall
    tool_result: ToolResult
    status: Status
    error: Error
    started: Started
    turn: Turn
    message: Message
    permission_decision: PermissionDecision
    permission_request: PermissionRequest
    clarification_request: ClarificationRequest
    plan: Plan
    usage: Usage
    snapshot: Snapshot
    notice: Notice
    final: Final
    event_json: str
    run: int
    def __init__(self, seq: _Optional[int] = ..., token: _Optional[_Union[Token, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResult, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., started: _Optional[_Union[Started, _Mapping]] = ..., turn: _Optional[_Union[Turn, _Mapping]] = ..., message: _Optional[_Union[Message, _Mapping]] = ..., permission_decision: _Optional[_Union[PermissionDecision, _Mapping]] = ..., permission_request: _Optional[_Union[PermissionRequest, _Mapping]] = ..., clarification_request: _Optional[_Union[ClarificationRequest, _Mapping]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., final: _Optional[_Union[Final, _Mapping]] = ..., event_json: _Optional[str] = ..., run: _Optional[int] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("text", "thinking")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    text: str
    thinking: bool
    def __init__(self, text: _Optional[str] = ..., thinking: _Optional[bool] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("call_id", "name", "input")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    name: str
    input: _struct_pb2.Struct
    def __init__(self, call_id: _Optional[str] = ..., name: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ToolResult(_message.Message):
    __slots__ = ("call_id", "name", "status", "output", "duration_ms")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    name: str
    status: str
    output: str
    duration_ms: float
    def __init__(self, call_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., output: _Optional[str] = ..., duration_ms: _Optional[float] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("status", "detail")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    status: SessionStatus
    detail: str
    def __init__(self, status: _Optional[_Union[SessionStatus, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "kind", "retryable")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    kind: str
    retryable: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., kind: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class Started(_message.Message):
    __slots__ = ("session_id", "snapshot_id", "model", "cwd", "environment", "tools", "permission_mode", "schema_version", "tau_version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_MODE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TAU_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    snapshot_id: str
    model: str
    cwd: str
    environment: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    permission_mode: str
    schema_version: str
    tau_version: str
    def __init__(self, session_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., model: _Optional[str] = ..., cwd: _Optional[str] = ..., environment: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., permission_mode: _Optional[str] = ..., schema_version: _Optional[str] = ..., tau_version: _Optional[str] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("turn",)
    TURN_FIELD_NUMBER: _ClassVar[int]
    turn: int
    def __init__(self, turn: _Optional[int] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("turn", "text", "tool_calls", "model_name")
    TURN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    turn: int
    text: str
    tool_calls: _containers.RepeatedScalarFieldContainer[str]
    model_name: str
    def __init__(self, turn: _Optional[int] = ..., text: _Optional[str] = ..., tool_calls: _Optional[_Iterable[str]] = ..., model_name: _Optional[str] = ...) -> None: ...

class PermissionDecision(_message.Message):
    __slots__ = ("call_id", "tool", "decision", "resolution", "rule", "reason")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool: str
    decision: str
    resolution: str
    rule: str
    reason: str
    def __init__(self, call_id: _Optional[str] = ..., tool: _Optional[str] = ..., decision: _Optional[str] = ..., resolution: _Optional[str] = ..., rule: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PermissionRequest(_message.Message):
    __slots__ = ("request_id", "call_id", "tool", "input", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    call_id: str
    tool: str
    input: _struct_pb2.Struct
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., call_id: _Optional[str] = ..., tool: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ClarificationRequest(_message.Message):
    __slots__ = ("request_id", "question", "options")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    question: str
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., question: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("request_id", "text")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    text: str
    def __init__(self, request_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("snapshot_id", "step")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    step: int
    def __init__(self, snapshot_id: _Optional[str] = ..., step: _Optional[int] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("level", "message")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: str
    message: str
    def __init__(self, level: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Final(_message.Message):
    __slots__ = ("status", "terminal_reason", "exit_code", "result", "structured_output", "usage", "num_turns", "duration_ms", "error", "session_status")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_REASON_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    NUM_TURNS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SESSION_STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    terminal_reason: str
    exit_code: int
    result: str
    structured_output: _struct_pb2.Value
    usage: Usage
    num_turns: int
    duration_ms: float
    error: str
    session_status: SessionStatus
    def __init__(self, status: _Optional[str] = ..., terminal_reason: _Optional[str] = ..., exit_code: _Optional[int] = ..., result: _Optional[str] = ..., structured_output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., num_turns: _Optional[int] = ..., duration_ms: _Optional[float] = ..., error: _Optional[str] = ..., session_status: _Optional[_Union[SessionStatus, str]] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id", "force")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    force: bool
    def __init__(self, session_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ("head_snapshot_id",)
    HEAD_SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    head_snapshot_id: str
    def __init__(self, head_snapshot_id: _Optional[str] = ...) -> None: ...

class UpdateSessionRequest(_message.Message):
    __slots__ = ("session_id", "model", "job", "permissions", "environment", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    model: str
    job: JobOptions
    permissions: Permissions
    environment: Environment
    labels: _containers.ScalarMap[str, str]
    def __init__(self, session_id: _Optional[str] = ..., model: _Optional[str] = ..., job: _Optional[_Union[JobOptions, _Mapping]] = ..., permissions: _Optional[_Union[Permissions, _Mapping]] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpdateSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class PresetSpec(_message.Message):
    __slots__ = ("description", "job_text", "job", "model", "environment", "permissions", "context")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    JOB_TEXT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    description: str
    job_text: str
    job: JobOptions
    model: str
    environment: Environment
    permissions: Permissions
    context: _containers.RepeatedCompositeFieldContainer[ContextEntry]
    def __init__(self, description: _Optional[str] = ..., job_text: _Optional[str] = ..., job: _Optional[_Union[JobOptions, _Mapping]] = ..., model: _Optional[str] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., permissions: _Optional[_Union[Permissions, _Mapping]] = ..., context: _Optional[_Iterable[_Union[ContextEntry, _Mapping]]] = ...) -> None: ...

class Preset(_message.Message):
    __slots__ = ("name", "version", "spec", "create_time", "update_time", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    spec: PresetSpec
    create_time: str
    update_time: str
    source: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., spec: _Optional[_Union[PresetSpec, _Mapping]] = ..., create_time: _Optional[str] = ..., update_time: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class CreatePresetRequest(_message.Message):
    __slots__ = ("name", "spec")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: PresetSpec
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[_Union[PresetSpec, _Mapping]] = ...) -> None: ...

class CreatePresetResponse(_message.Message):
    __slots__ = ("preset",)
    PRESET_FIELD_NUMBER: _ClassVar[int]
    preset: Preset
    def __init__(self, preset: _Optional[_Union[Preset, _Mapping]] = ...) -> None: ...

class GetPresetRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetPresetResponse(_message.Message):
    __slots__ = ("preset",)
    PRESET_FIELD_NUMBER: _ClassVar[int]
    preset: Preset
    def __init__(self, preset: _Optional[_Union[Preset, _Mapping]] = ...) -> None: ...

class ListPresetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPresetsResponse(_message.Message):
    __slots__ = ("presets",)
    PRESETS_FIELD_NUMBER: _ClassVar[int]
    presets: _containers.RepeatedCompositeFieldContainer[Preset]
    def __init__(self, presets: _Optional[_Iterable[_Union[Preset, _Mapping]]] = ...) -> None: ...

class UpdatePresetRequest(_message.Message):
    __slots__ = ("name", "spec", "expected_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: PresetSpec
    expected_version: int
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[_Union[PresetSpec, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdatePresetResponse(_message.Message):
    __slots__ = ("preset",)
    PRESET_FIELD_NUMBER: _ClassVar[int]
    preset: Preset
    def __init__(self, preset: _Optional[_Union[Preset, _Mapping]] = ...) -> None: ...

class DeletePresetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeletePresetResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: int
    def __init__(self, versions: _Optional[int] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("conversation_id", "head_session_id", "sessions", "create_time", "update_time")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    HEAD_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    head_session_id: str
    sessions: int
    create_time: str
    update_time: str
    def __init__(self, conversation_id: _Optional[str] = ..., head_session_id: _Optional[str] = ..., sessions: _Optional[int] = ..., create_time: _Optional[str] = ..., update_time: _Optional[str] = ...) -> None: ...

class ConversationNode(_message.Message):
    __slots__ = ("session_id", "parent_session_id", "status", "runs", "create_time", "update_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    parent_session_id: str
    status: SessionStatus
    runs: int
    create_time: str
    update_time: str
    def __init__(self, session_id: _Optional[str] = ..., parent_session_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., runs: _Optional[int] = ..., create_time: _Optional[str] = ..., update_time: _Optional[str] = ...) -> None: ...

class ListConversationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListConversationsResponse(_message.Message):
    __slots__ = ("conversations",)
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[Conversation]
    def __init__(self, conversations: _Optional[_Iterable[_Union[Conversation, _Mapping]]] = ...) -> None: ...

class GetConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class GetConversationResponse(_message.Message):
    __slots__ = ("conversation", "nodes")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    nodes: _containers.RepeatedCompositeFieldContainer[ConversationNode]
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[ConversationNode, _Mapping]]] = ...) -> None: ...

class SkillInfo(_message.Message):
    __slots__ = ("name", "description", "scope", "path", "argument_hint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ARGUMENT_HINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    scope: str
    path: str
    argument_hint: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., scope: _Optional[str] = ..., path: _Optional[str] = ..., argument_hint: _Optional[str] = ...) -> None: ...

class ListSkillsRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListSkillsResponse(_message.Message):
    __slots__ = ("skills",)
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedCompositeFieldContainer[SkillInfo]
    def __init__(self, skills: _Optional[_Iterable[_Union[SkillInfo, _Mapping]]] = ...) -> None: ...

class GetSkillRequest(_message.Message):
    __slots__ = ("session_id", "name")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    name: str
    def __init__(self, session_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetSkillResponse(_message.Message):
    __slots__ = ("skill", "body")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    skill: SkillInfo
    body: str
    def __init__(self, skill: _Optional[_Union[SkillInfo, _Mapping]] = ..., body: _Optional[str] = ...) -> None: ...

class Mail(_message.Message):
    __slots__ = ("seq", "session_id", "sender", "kind", "body", "create_time", "deliver_time")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELIVER_TIME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    session_id: str
    sender: str
    kind: str
    body: str
    create_time: str
    deliver_time: str
    def __init__(self, seq: _Optional[int] = ..., session_id: _Optional[str] = ..., sender: _Optional[str] = ..., kind: _Optional[str] = ..., body: _Optional[str] = ..., create_time: _Optional[str] = ..., deliver_time: _Optional[str] = ...) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ("session_id", "conversation_id", "text", "sender")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    conversation_id: str
    text: str
    sender: str
    def __init__(self, session_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., text: _Optional[str] = ..., sender: _Optional[str] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ("mail", "delivered")
    MAIL_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    mail: Mail
    delivered: bool
    def __init__(self, mail: _Optional[_Union[Mail, _Mapping]] = ..., delivered: _Optional[bool] = ...) -> None: ...

class ListMailRequest(_message.Message):
    __slots__ = ("session_id", "pending_only")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_ONLY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    pending_only: bool
    def __init__(self, session_id: _Optional[str] = ..., pending_only: _Optional[bool] = ...) -> None: ...

class ListMailResponse(_message.Message):
    __slots__ = ("mail",)
    MAIL_FIELD_NUMBER: _ClassVar[int]
    mail: _containers.RepeatedCompositeFieldContainer[Mail]
    def __init__(self, mail: _Optional[_Iterable[_Union[Mail, _Mapping]]] = ...) -> None: ...

class StartAgentRequest(_message.Message):
    __slots__ = ("parent_session_id", "prompt", "agent", "session_id")
    PARENT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    parent_session_id: str
    prompt: str
    agent: str
    session_id: str
    def __init__(self, parent_session_id: _Optional[str] = ..., prompt: _Optional[str] = ..., agent: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class StartAgentResponse(_message.Message):
    __slots__ = ("session_id", "depth")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    depth: int
    def __init__(self, session_id: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...
