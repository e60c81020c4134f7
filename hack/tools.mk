# Versions of tools built from Go modules.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
