"""The harness the tests and the benchmarks share: set-up of tenants, people and outbox rows,
and (in ``tests/fakes``) the stand-ins for the far side of the network."""
