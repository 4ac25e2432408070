"""Health monitor: probes providers and reads attempt events; publishes provider status."""
