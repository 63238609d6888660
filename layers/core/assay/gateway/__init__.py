"""The LLM gateway: OpenAI-compatible endpoints in front of every provider, with routing,
failover, limits, cache, guardrails and usage. `service.Gateway` is the entry, built by
`wiring.build_gateway`; its HTTP endpoints are `assay.api.openai_endpoints`.

Nothing is imported here, so records can use `guardrails` without importing the service."""
