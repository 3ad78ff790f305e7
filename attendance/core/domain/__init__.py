"""The pure core: entities, value objects and rules. No I/O, no framework imports."""
