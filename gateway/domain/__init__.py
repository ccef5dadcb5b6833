"""Business rules that do not depend on a wire contract."""
