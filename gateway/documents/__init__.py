"""Document checks, cover pages and cost."""
