"""The demo district and the synthetic registries of the benchmark."""
