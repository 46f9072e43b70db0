"""Redis (or Valkey) adapters: request state and history, indexes, the outbox."""
