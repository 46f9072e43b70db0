"""SIP2 (3M Standard Interchange Protocol 2.00): the home library's register over its
self-check port. ``messages`` builds and parses (no I/O), ``client`` talks TCP."""
