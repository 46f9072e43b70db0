"""SRU (Search/Retrieve via URL) 1.2 and 2.0: CQL searches of member catalogs."""
