"""Traces: the ``Tracer`` port on OpenTelemetry (``otel``)."""
