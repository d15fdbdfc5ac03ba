"""Synthesizer: requests + model + deployment -> communication DAG."""
