"""Files we keep: the baseline store, saved run reports, atomic writes, safe JSON reads."""
