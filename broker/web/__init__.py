"""HTTP entry points: JSON API, pages, ISO 18626, health and metrics."""
