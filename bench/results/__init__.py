"""Turn the raw data of a benchmark run (``bench/out/data.json``) into ``RESULTS.md``.

``Report(data).markdown()`` is the whole file. Each section comes from the module that
owns it: ``targets`` (the pass/miss table), ``protocol`` (how the runs were made, the
workload), ``conditions`` (per-condition tables, baseline luck, time per run) and
``costs`` (timer overhead, install cost, import time); ``cells`` formats table cells
and ``runs`` holds the parsed runs and picks among them.
"""

from __future__ import annotations

from results.report import Report

__all__ = ["Report"]
