"""The measuring session: registered only under ``--gpuperf``; collects, reports, saves."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf import baseline as store
from pytest_gpuperf import machine
from pytest_gpuperf.admission import refusal
from pytest_gpuperf.gate import Verdict
from pytest_gpuperf.summary import summary_lines

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from pytest_gpuperf.backends.registry import BackendRegistry
    from pytest_gpuperf.history import History
    from pytest_gpuperf.measurement import Measurement
    from pytest_gpuperf.options import Settings
    from pytest_gpuperf.record import TestRecord


XDIST_SAVE_IGNORED = (
    "--gpuperf-save ignored under pytest-xdist: nothing was measured, so nothing is saved; "
    "run --gpuperf --gpuperf-save without -n"
)
XDIST_WARNING = (
    "WARNING: gpuperf timing is off under pytest-xdist (workers share the CPUs, so speedups "
    "would be noise); correctness is still checked. Run --gpuperf without -n to measure."
)


@final
class GpuperfSession:
    """Holds the baselines, the machine facts and every measured record of one run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[TestRecord] = []
        self.notes: list[str] = []
        self.baselines = store.Baselines(machines={})
        self.machine_info: dict[str, object] = {}
        self.fingerprint = ""
        self.versions: dict[str, str] = {}
        #: Outputs asked for that could not be written; any of them fails the run.
        self.write_failures: list[str] = []
        self._registry: BackendRegistry | None = None
        self.timing_enabled = not _under_xdist(config)
        if not self.timing_enabled and not hasattr(config, "workerinput"):
            # A terminal line, not a Python warning: filterwarnings=error would make it a crash.
            self.notes.append(XDIST_WARNING)
            if settings.save:
                self.notes.append(XDIST_SAVE_IGNORED)

    def start(self, registry: BackendRegistry) -> None:
        """Load the baselines (a damaged file stops the run) and read the machine facts."""
        try:
            self.baselines = store.load_baselines(
                self.settings.baseline_path, self.settings.baseline_source
            )
        except store.BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.machine_info = machine.machine_info(gpu_info(registry, self.settings.backends))
        self.fingerprint = machine.fingerprint(self.machine_info)
        locked = clocks_locked(registry, self.settings.backends)
        if locked is not None:  # in the machine info, so in the baseline file too
            self.machine_info["clocks_locked"] = locked
        self.versions = machine.library_versions()
        self._registry = registry
        if self.baselines.fingerprints() and not self.baselines.has_machine(self.fingerprint):
            self.notes.append(
                f"no baseline for this machine: {self.fingerprint}; run with --gpuperf-save"
            )

    def _gpu_backends(self) -> frozenset[str]:
        """GPU backends, read at the end: torch and jax decide ``is_gpu`` when first used."""
        registry = self._registry
        return (
            frozenset(n for n in registry.names if registry.get(n).is_gpu)
            if registry
            else frozenset()
        )

    def history(self, test_key: str, backend: str) -> History | None:
        """The saved runs for this machine, test and backend."""
        return self.baselines.history(self.fingerprint, test_key, backend)

    def record(self, record: TestRecord) -> None:
        """Keep a measured test for the summary, the JSON report and saving."""
        self.records.append(record)
        devices = self.machine_info.setdefault("devices", {})
        if record.device and isinstance(devices, dict):
            devices[record.backend] = record.device  # e.g. the dask scheduler in use

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Mark a record passed when its test's call phase passed."""
        report = yield
        if report.when == "call" and report.passed:
            for record in self.records:
                if record.nodeid == item.nodeid:
                    record.passed = True
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Save baselines when asked, and write the JSON and Markdown reports.

        An output that can't be written fails the run (exit status 1, like a failed
        test), so a CI job that saves or publishes does not go green with nothing written.
        """
        if any(r.bytes_per_call is not None or r.flops_per_call is not None for r in self.records):
            from pytest_gpuperf.throughput import attach_throughput

            attach_throughput(self.records, self._gpu_backends(), self.machine_info)
        if self.settings.save and self.timing_enabled:
            self._save()
        plot_dir = self.settings.plot_dir if self.timing_enabled else None
        if self.settings.json_path is not None or plot_dir is not None:
            from pytest_gpuperf.report_json import build_report

            report = build_report(self)  # once: it reads git and every sample
            if self.settings.json_path is not None:
                self._write_json(report)
            if plot_dir is not None:
                self._plot(report, plot_dir)
        if not hasattr(self.config, "workerinput"):
            from pytest_gpuperf.markdown import publish

            problems, failed = publish(self, self.settings.markdown_path)
            self.notes.extend(problems)
            if failed:
                self.write_failures.append("the Markdown report")
        if self.write_failures and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            self.notes.append(
                f"exit status {int(pytest.ExitCode.TESTS_FAILED)}: "
                f"{' and '.join(self.write_failures)} could not be written (see above)"
            )

    def _write_json(self, report: dict[str, Any]) -> None:
        """Write the JSON report; a failure becomes a note and fails the run."""
        from pytest_gpuperf.atomic import WriteError
        from pytest_gpuperf.report_json import write_json

        assert self.settings.json_path is not None
        try:
            write_json(self.settings.json_path, report)
        except WriteError as exc:
            self.notes.append(f"JSON report NOT written: {exc}")
            self.write_failures.append("the JSON report")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print the table of measured tests."""
        terminalreporter.write_sep("=", "gpuperf")
        if not self.timing_enabled:
            for line in self.notes:
                terminalreporter.write_line(line)
            return
        verbose = self.config.get_verbosity() > 0
        for line in summary_lines(self, self._sections(), verbose=verbose):
            terminalreporter.write_line(line)

    def _sections(self) -> list[str]:
        """Sweeps with their crossovers, then throughput, for below the table."""
        from pytest_gpuperf.gpu_report import gpu_report_lines
        from pytest_gpuperf.sweep import benchmark_items, sweep_lines
        from pytest_gpuperf.throughput import throughput_lines

        sweeps = sweep_lines(benchmark_items(self.records))
        lines = ["", "sweeps:", *(f"  {line}" for line in sweeps)] if sweeps else []
        through = throughput_lines(self.records)
        verbose = self.config.get_verbosity() > 0
        return (
            lines
            + (["", *through] if through else [])
            + gpu_report_lines(self.records, verbose=verbose)
        )

    def _plot(self, report: dict[str, Any], folder: Path) -> None:
        """Write the PNG plots; a missing matplotlib becomes a note, never a crash."""
        from pytest_gpuperf.plots import PlotError, write_plots

        try:
            written = write_plots(report, folder)
        except PlotError as exc:
            self.notes.append(f"plots NOT written: {exc}")
            return
        self.notes.append(f"wrote {len(written)} plot(s) to {folder}")

    def savable(self) -> list[TestRecord]:
        """Records fit to become baselines (see :func:`pytest_gpuperf.admission.refusal`)."""
        return [record for record in self.records if self._refusal(record) is None]

    @staticmethod
    def _refusal(record: TestRecord) -> str | None:
        m, gate = record.measurement, record.gate
        return refusal(
            simulated=m.simulated,
            passed=record.passed,
            verdict=gate.verdict.value if gate else Verdict.TIMED.value,
            contended=gate.contended if gate else False,
            foreign_cpu=m.foreign_cpu,
            has_speedup=m.speedup is not None,
            has_medians=m.kernel is not None and m.reference is not None,
        )

    def _save(self) -> None:
        from pytest_benchmark.utils import get_commit_info

        entries: dict[str, dict[str, store.BaselineEntry]] = {}
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        info = get_commit_info()  # type: ignore[no-untyped-call]
        commit = info.get("id") if info.get("id") not in (None, "unversioned") else None
        if commit and info.get("dirty"):
            commit = f"{commit}+dirty"
        savable = self.savable()
        for record in savable:
            m = record.measurement
            assert m.speedup is not None
            assert m.kernel is not None
            assert m.reference is not None
            kernel, reference, device = m.kernel.summary(), m.reference.summary(), m.device_stats
            entries.setdefault(record.test_key, {})[record.backend] = store.BaselineEntry(
                speedup=m.speedup.value,
                ci_low=m.speedup.low,
                ci_high=m.speedup.high,
                kernel_median_s=kernel.median,
                reference_median_s=reference.median,
                samples=len(m.ratios),
                dtypes=record.dtypes,
                shapes=record.shapes,
                versions=dict(self.versions),
                timestamp=now,
                foreign_cpu=m.foreign_cpu or 0.0,
                kernel_iqr_s=kernel.iqr,
                reference_iqr_s=reference.iqr,
                kernel_device_median_s=device.median if device is not None else None,
                commit=str(commit) if commit else None,
                device_peak_bytes=_device_peak(m),
                host_peak_bytes=m.memory.host_peak_bytes if m.memory else None,
            )
        skipped = len(self.records) - len(savable)
        if entries:
            try:
                store.save_baselines(
                    self.settings.baseline_path,
                    self.fingerprint,
                    self.machine_info,
                    entries,
                    history=self.settings.history,
                )
            except store.BaselineError as exc:
                self.notes.append(f"baselines NOT saved: {exc}")
                self.write_failures.append("the baselines")
                return
        saved = sum(len(v) for v in entries.values())
        self.notes.append(
            f"saved {saved} baseline(s) to {self.settings.baseline_path}"
            + (f"; {skipped} not saved (failed, simulated or contended)" if skipped else "")
        )


def _device_peak(measurement: Measurement) -> int | None:
    """The device peak worth keeping: measured, and not the simulator's host memory."""
    peaks = measurement.memory
    return None if peaks is None or peaks.simulated else peaks.device_peak_bytes


def _under_xdist(config: pytest.Config) -> bool:
    """True in an xdist worker, or in a controller that distributes tests."""
    if hasattr(config, "workerinput"):
        return True
    numprocesses = config.getoption("numprocesses", None)
    return bool(numprocesses)


def gpu_info(registry: BackendRegistry, wanted: tuple[str, ...] | None) -> dict[str, object]:
    """Device facts of the first selected, available, real GPU backend."""
    for name in registry.select(wanted):
        backend = registry.get(name)
        # Availability first: torch and jax learn whether they are on a GPU there.
        if registry.unavailable_reason(name) is None and backend.is_gpu and not backend.simulated:
            try:
                return backend.device_info()
            except Exception:  # facts are optional; never fail a run over them
                continue
    return {}


def clocks_locked(registry: BackendRegistry, wanted: tuple[str, ...] | None) -> bool | None:
    """Whether the first selected, available, real GPU's clocks are locked (NVML), or None."""
    for name in registry.select(wanted):
        backend = registry.get(name)
        if registry.unavailable_reason(name) is None and backend.is_gpu and not backend.simulated:
            pci_bus_id = getattr(backend, "pci_bus_id", None)
            from pytest_gpuperf import nvml

            gpu = nvml.device(pci_bus_id() if callable(pci_bus_id) else None)
            return gpu.clocks_locked() if gpu is not None else None
    return None
