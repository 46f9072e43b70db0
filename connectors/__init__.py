"""Connectors: the broker's adapters to member libraries' catalogs, registers and lending."""
