"""Alias of `tau.runtime.features.steering` (moved to the features room, issue #15) for front-end modules not yet
updated (`tau.cli.warm_server` preloads this path); import from `tau.runtime.features.steering`. Remove once nothing
imports this path."""

from tau.runtime.features.steering import inject_message, is_running, request_stop, steered

__all__ = ["inject_message", "is_running", "request_stop", "steered"]
