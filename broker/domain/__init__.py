"""The pure core: model, states and policy. Nothing here does I/O."""
