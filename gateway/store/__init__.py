"""Durable storage: tables, migrations, repository and the blob store."""
