"""MARC 21 bibliographic records (MARCXML) reduced to what the broker matches and routes on."""
