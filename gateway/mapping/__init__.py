"""Mapping engine: applies the declarative tables in ``mappings/``."""
