"""Use cases that tie the core to the store and the connectors."""
