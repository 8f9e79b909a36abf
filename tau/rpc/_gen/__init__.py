"""Generated ConnectRPC / protobuf code for `tau.runtime.v1` (proto/tau/runtime/v1/runtime.proto).

DO NOT EDIT: regenerate with `.venv/bin/python scripts/gen-proto` (see that script for why these files live here
rather than under a `tau/runtime/v1/` path). Only `tau.rpc` imports this package.
"""
