"""Consortium interlibrary-loan broker."""
