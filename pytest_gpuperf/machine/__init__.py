"""Facts about the machine: fingerprint, GPU clocks through NVML, event checks, doctor."""
