"""Model YAML files for the synthesizer (data; a package so they install with traces)."""
