"""The JSON Schema of the trace format (data; a package so it installs with traces)."""
