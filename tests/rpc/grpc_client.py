"""A plain grpcio client of `tau serve`, run as its own process by test_grpc_plain.py (never imported by pytest: its
stubs, generated from proto/tau/runtime/v1/runtime.proto into a temp dir, would clash with tau's own descriptors).

    python grpc_client.py STUBS_DIR TARGET TOKEN CASSETTE [CA_CERT]

With CA_CERT the channel is TLS (target `localhost:PORT`) and the token goes as call credentials; without, the channel
is cleartext h2c and the token goes as `authorization` metadata (grpcio refuses call credentials on an insecure
channel). Calls every RPC of the service, streams included, and prints one JSON object of what each returned.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import grpc


def main() -> int:
    stubs, target, token, cassette = sys.argv[1:5]
    ca = sys.argv[5] if len(sys.argv) > 5 else None
    sys.path.insert(0, stubs)
    import runtime_pb2 as pb  # type: ignore[import-not-found]
    import runtime_pb2_grpc as rpc  # type: ignore[import-not-found]

    if ca is None:
        channel = anonymous = grpc.insecure_channel(target)
        auth = [("authorization", f"Bearer {token}")]
    else:
        with open(ca, "rb") as file:
            credentials = grpc.ssl_channel_credentials(file.read())
        call_credentials = grpc.access_token_call_credentials(token)
        channel = grpc.secure_channel(target, grpc.composite_channel_credentials(credentials, call_credentials))
        anonymous = grpc.secure_channel(target, credentials)
        auth = []
    stub = rpc.RuntimeServiceStub(channel)
    out: dict[str, Any] = {}

    def code_of(call: Any) -> str:
        try:
            call()
        except grpc.RpcError as error:
            return str(error.code().name)
        return "OK"

    no_token = rpc.RuntimeServiceStub(anonymous)
    out["unauthenticated"] = code_of(lambda: no_token.ListSessions(pb.ListSessionsRequest(), timeout=30))
    if ca is None:
        bad = [("authorization", "Bearer wrong")]
        out["wrong_token"] = code_of(lambda: stub.ListSessions(pb.ListSessionsRequest(), metadata=bad, timeout=30))

    plan = pb.CreateSessionRequest(model="test:grpc", permissions=pb.Permissions(mode="plan"))
    created = stub.CreateSession(plan, metadata=auth, timeout=30)
    sid = created.session_id
    events = list(stub.Run(pb.RunRequest(session_id=sid, prompt="plan it"), metadata=auth, timeout=120))
    out["run"] = [event.WhichOneof("event") for event in events]
    out["run_plan_ids"] = [event.plan.request_id for event in events if event.HasField("plan")]
    out["run_final"] = [events[-1].final.status, events[-1].final.terminal_reason]
    session = stub.GetSession(pb.GetSessionRequest(session_id=sid), metadata=auth, timeout=30).session
    out["get"] = [pb.SessionStatus.Name(session.status), [p.request_id for p in session.pending], session.runs]
    entry = pb.ContextEntry(key="note", content="remember this")
    injected = stub.InjectContext(pb.InjectContextRequest(session_id=sid, entries=[entry]), metadata=auth, timeout=30)
    out["inject"] = [injected.delivered, injected.queued]
    reject = pb.PlanResponse(decision=pb.PLAN_DECISION_REJECT, feedback="smaller steps")
    answer = pb.RespondRequest(session_id=sid, request_id="plan-1", plan=reject)
    out["respond"] = pb.SessionStatus.Name(stub.Respond(answer, metadata=auth, timeout=30).status)
    follow = pb.StreamEventsRequest(session_id=sid, after_seq=events[-1].seq, follow=False)
    later = list(stub.StreamEvents(follow, metadata=auth, timeout=120))
    out["stream_events"] = [event.WhichOneof("event") for event in later]
    out["stream_plan_ids"] = [event.plan.request_id for event in later if event.HasField("plan")]
    late = pb.RespondRequest(
        session_id=sid, request_id="plan-1", plan=pb.PlanResponse(decision=pb.PLAN_DECISION_APPROVE)
    )
    out["late_approve"] = code_of(lambda: stub.Respond(late, metadata=auth, timeout=30))
    forked = stub.ForkSession(pb.ForkSessionRequest(session_id=sid), metadata=auth, timeout=30)
    out["fork"] = [forked.session.parent_session_id == sid, pb.SessionStatus.Name(forked.session.status)]
    listed = stub.ListSessions(pb.ListSessionsRequest(page_size=10), metadata=auth, timeout=30)
    out["list"] = sorted(s.session_id == sid or s.session_id == forked.session_id for s in listed.sessions)

    # a run that sleeps in bash, cancelled while it does: the stream still ends with its final event
    sleeper = pb.CreateSessionRequest(
        model=f"replay:{cassette}", permissions=pb.Permissions(mode="acceptEdits", allow=["Bash(*)"])
    )
    sleeping = stub.CreateSession(sleeper, metadata=auth, timeout=30).session_id
    stream = stub.Run(pb.RunRequest(session_id=sleeping, prompt="Sleep."), metadata=auth, timeout=120)
    seen: list[str] = []
    cancelled = threading.Event()
    for event in stream:
        seen.append(event.WhichOneof("event") or "")
        if event.HasField("tool_call") and not cancelled.is_set():
            cancelled.set()
            request = pb.CancelRunRequest(session_id=sleeping, reason="enough")
            out["cancel"] = stub.CancelRun(request, metadata=auth, timeout=30).cancelled
        if event.HasField("final"):
            out["cancelled_final"] = [event.final.status, event.final.terminal_reason]
    out["cancelled_run"] = seen[-3:]
    out["idle_cancel"] = stub.CancelRun(pb.CancelRunRequest(session_id=sleeping), metadata=auth, timeout=30).cancelled
    channel.close()
    anonymous.close()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
