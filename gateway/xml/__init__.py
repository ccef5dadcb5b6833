"""Parsing of untrusted XML, schema registry and signatures."""
