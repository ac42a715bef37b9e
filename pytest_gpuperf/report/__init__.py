"""Reports of a run: the terminal table, JSON, Markdown, plots, junit properties."""
