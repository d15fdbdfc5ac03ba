"""Importers of public request-level LLM serving traces (-> requests)."""
