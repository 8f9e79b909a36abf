"""Models: building a pydantic-ai model from a `ModelSpec` with retries (`build`), the providers and HTTP clients
shared per configuration (`providers`), and record/replay cassettes (`cassette`).

Below the runtime, above config: nothing here knows about runs, sessions or events. Import the submodules directly
(this package imports nothing, so `tau.models.cassette` does not pull in the provider SDKs).
"""
