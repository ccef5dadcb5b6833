"""spyne services, one module per contract. Translation only; no business rules."""
