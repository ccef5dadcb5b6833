"""Nordic public-sector digital mail gateway: SOAP intake, durable store, dispatch."""

__version__ = "0.1.0"
