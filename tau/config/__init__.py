"""Configuration: the only part of tau that reads config files, job files and environment variables.

Public API: `load_job(...) -> JobSpec` (raises `ConfigError`, exit 2, one line), `describe_sources(env, cwd)`, and the
`JobSpec` family from `tau.config.spec`. Layering: defaults (JobSpec) < user config < project config < frontmatter
< TAU_* env < CLI flags; see `layers` for the merge rules, `models` for providers and credentials, `jobfile` for
frontmatter and `{{ var }}` templates. Imports only stdlib, yaml, pydantic, `tau.errors` and `tau.protocol`.
"""

from tau.config.layers import ENV_VARS, FLAG_PATHS, describe_sources, find_config_files
from tau.config.loader import SUPPORTED_ENVIRONMENTS, load_job
from tau.config.models import PROVIDER_RULES, parse_model_ref, resolve_model
from tau.config.resume import resume_job, stored_job
from tau.config.spec import (
    BUILTIN_TOOLS,
    EnvironmentSpec,
    JobSpec,
    LimitsSpec,
    ModelCapabilities,
    ModelSpec,
    OutputSpec,
    PermissionsSpec,
)

__all__ = [
    "BUILTIN_TOOLS",
    "ENV_VARS",
    "FLAG_PATHS",
    "PROVIDER_RULES",
    "SUPPORTED_ENVIRONMENTS",
    "EnvironmentSpec",
    "JobSpec",
    "LimitsSpec",
    "ModelCapabilities",
    "ModelSpec",
    "OutputSpec",
    "PermissionsSpec",
    "describe_sources",
    "find_config_files",
    "load_job",
    "parse_model_ref",
    "resolve_model",
    "resume_job",
    "stored_job",
]
