"""The measuring session: registered only under ``--gpuperf``; collects, reports, saves."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf.machine import facts
from pytest_gpuperf.report.table import summary_lines
from pytest_gpuperf.scaleout.roles import role
from pytest_gpuperf.store import baseline as store
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.admission import refusal
from pytest_gpuperf.verdict.gate import Verdict
from pytest_gpuperf.verdict.record import RunResults

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping
    from contextlib import AbstractContextManager

    from pytest_gpuperf.backends.registry import BackendRegistry
    from pytest_gpuperf.confirm import FreshConfirmation
    from pytest_gpuperf.measure.measurement import Measurement
    from pytest_gpuperf.options import Settings
    from pytest_gpuperf.save_runs import SaveRuns
    from pytest_gpuperf.scaleout.shipping import WorkerPayload
    from pytest_gpuperf.verdict.history import History
    from pytest_gpuperf.verdict.record import KernelRecord
    from pytest_gpuperf.verdict.spread_prior import SpreadPrior


@final
class GpuperfSession:
    """Holds the baselines, the machine facts and every measured record of one run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[KernelRecord] = []
        self.notes: list[str] = []
        self.baselines = store.Baselines(machines={})
        self.machine_info: dict[str, object] = {}
        self.fingerprint = ""
        self.versions: dict[str, str] = {}
        #: Outputs asked for that could not be written; any of them fails the run.
        self.write_failures: list[str] = []
        self._registry: BackendRegistry | None = None
        self._priors: dict[str, Mapping[str, SpreadPrior]] = {}
        #: "solo" (no xdist), "worker" (measures, hands its records over) or "controller".
        self.role = role(config)
        #: One-line hints shown below the summary (the plugin shares its dict here).
        self.hints: dict[str, None] = {}
        #: What a measurement holds while timing; the worker locks under pytest-xdist.
        self.guard: Callable[..., AbstractContextManager[object]] = lambda cpu_side: (
            contextlib.nullcontext()
        )
        #: Controller: node id -> when its call finished, to list records in that order.
        self.order: dict[str, int] = {}
        #: Controller: fingerprint -> the workers that measured on it.
        self.worker_fingerprints: dict[str, list[str]] = {}
        #: The extra processes of ``--gpuperf-save-runs`` (None: this run saves alone).
        self._save_runs = _save_runs(config, settings, self.role)
        #: Measures a suspected regression again in a fresh process (None: not in this run).
        self.confirm = _confirmation(config, settings, self.role)

    def start(self, registry: BackendRegistry) -> None:
        """Load the baselines (a damaged file stops the run) and read the machine facts."""
        from pytest_gpuperf.fresh_process import child_plan

        plan = child_plan()  # a fresh process is judged as its parent was: against a copy
        judged = Path(plan.judge_baseline) if plan is not None else self.settings.baseline_path
        try:
            self.baselines = store.load_baselines(judged, self.settings.baseline_source)
        except store.BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.versions = facts.library_versions()
        self._registry = registry
        if self.role == "controller":
            return  # machine facts come from the workers: probing a GPU here would start CUDA
        self.machine_info = facts.machine_info(facts.gpu_info(registry, self.settings.backends))
        self.fingerprint = facts.fingerprint(self.machine_info)
        locked = facts.clocks_locked(registry, self.settings.backends)
        if locked is not None:  # in the machine info, so in the baseline file too
            self.machine_info["clocks_locked"] = locked
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

    def priors(self, backend: str) -> Mapping[str, SpreadPrior]:
        """The between-run spreads pooled over this machine's saved tests of ``backend``.

        Computed once per backend, from the baselines as they were when the run began.
        """
        if backend not in self._priors:
            self._priors[backend] = self.baselines.priors(self.fingerprint, backend)
        return self._priors[backend]

    def results(self) -> RunResults:
        """What the reports read: the records and notes so far, and the machine facts."""
        return RunResults(
            records=tuple(self.records),
            notes=tuple(self.notes),
            fingerprint=self.fingerprint,
            machine_info=dict(self.machine_info),
            versions=dict(self.versions),
        )

    def record(self, record: KernelRecord) -> None:
        """Keep a measured test for the summary, the JSON report and saving."""
        self.records.append(record)
        devices = self.machine_info.setdefault("devices", {})
        if record.device and isinstance(devices, dict):
            devices[record.backend] = record.device  # e.g. the dask scheduler in use

    def absorb(self, payload: WorkerPayload) -> None:
        """Controller: take one worker's records, notes, hints and machine facts."""
        self.records.extend(payload.records)
        self.notes.extend(n for n in payload.notes if n not in self.notes)
        self.hints.update(dict.fromkeys(payload.hints))
        if payload.fingerprint:
            self.worker_fingerprints.setdefault(payload.fingerprint, []).append(payload.worker)
        if not self.fingerprint and payload.fingerprint:
            self.fingerprint = payload.fingerprint
            self.machine_info = dict(payload.machine_info)
            self.versions = dict(payload.versions)
        found = payload.machine_info.get("devices")
        devices = self.machine_info.setdefault("devices", {})
        if isinstance(found, dict) and isinstance(devices, dict):
            for backend, text in found.items():
                known = str(devices.get(backend) or "")
                if text and text not in known.split("; "):
                    devices[backend] = f"{known}; {text}" if known else text

    def _handover(self) -> None:
        """Worker: pack the records for the controller (``config.workeroutput``)."""
        from pytest_gpuperf.scaleout.shipping import OUTPUT_KEY, WorkerPayload, pack

        workerinput: dict[str, Any] = getattr(self.config, "workerinput", {})
        payload = WorkerPayload(
            worker=str(workerinput.get("workerid", "?")),
            records=self.records,
            notes=self.notes,
            hints=list(self.hints),
            fingerprint=self.fingerprint,
            machine_info=self.machine_info,
            versions=self.versions,
        )
        output: dict[str, Any] = getattr(self.config, "workeroutput", {})
        output[OUTPUT_KEY], _left = pack(payload)

    def hand_over_early(self, session: pytest.Session) -> str:
        """Worker about to be ended on purpose: its records packed now, as text for a report."""
        import base64

        from pytest_gpuperf.scaleout.shipping import OUTPUT_KEY

        self.pytest_sessionfinish(session)  # what a worker does at its end: throughput, pack
        output: dict[str, Any] = getattr(self.config, "workeroutput", {})
        return base64.b64encode(output.pop(OUTPUT_KEY)).decode("ascii")

    def _mixed_machines(self) -> str | None:
        """Controller: a note when workers measured on different machines (GPU models)."""
        if len(self.worker_fingerprints) < 2:
            return None
        groups = sorted((sorted(workers), fp) for fp, workers in self.worker_fingerprints.items())
        seen = "; ".join(f"{', '.join(workers)}: {fp}" for workers, fp in groups)
        return (
            f"baselines NOT saved: the workers measured on different machines ({seen}); list "
            "devices of one GPU model in --gpuperf-devices"
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Mark a record passed when its test's call phase passed."""
        report = yield
        if report.when == "call" and report.passed:
            self.records[:] = [
                dataclasses.replace(r, passed=True) if r.nodeid == item.nodeid else r
                for r in self.records
            ]
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Save baselines when asked, and write the JSON and Markdown reports.

        An output that can't be written fails the run (exit status 1, like a failed
        test), so a CI job that saves or publishes does not go green with nothing written.
        """
        if self.role != "controller" and any(
            r.bytes_per_call is not None or r.flops_per_call is not None for r in self.records
        ):
            from pytest_gpuperf.report.throughput import attach_throughput

            attach_throughput(self.records, self._gpu_backends(), self.machine_info)
        if self.role == "worker":
            self._handover()  # the controller reports and saves, once
            return
        if self.role == "controller":
            self.records.sort(key=lambda r: self.order.get(r.nodeid, len(self.order)))
        mixed = self._mixed_machines() if self.settings.save else None
        if mixed:
            self.notes.append(mixed)
        elif self.settings.save:
            saved = self._save()
            if saved and self._save_runs is not None:
                self.notes.extend(self._save_runs.run(saved, self._say))
        plot_dir = self.settings.plot_dir
        if self.settings.json_path is not None or plot_dir is not None:
            from pytest_gpuperf.report.json_report import build_report

            report = build_report(self.results())  # once: it reads git and every sample
            if self.settings.json_path is not None:
                self._write_json(report)
            if plot_dir is not None:
                self._plot(report, plot_dir)
        from pytest_gpuperf.report.markdown import publish

        problems, failed = publish(self.results(), self.settings.markdown_path)
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
        from pytest_gpuperf.report.json_report import write_json
        from pytest_gpuperf.store.atomic import WriteError

        assert self.settings.json_path is not None
        try:
            write_json(self.settings.json_path, report)
        except WriteError as exc:
            self.notes.append(f"JSON report NOT written: {exc}")
            self.write_failures.append("the JSON report")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print the table of measured tests."""
        terminalreporter.write_sep("=", "gpuperf")
        verbose = self.config.get_verbosity() > 0
        for line in summary_lines(self.results(), self._sections(), verbose=verbose):
            terminalreporter.write_line(line)

    def _sections(self) -> list[str]:
        """Sweeps with their crossovers, then throughput, for below the table."""
        from pytest_gpuperf.report.gpu_sections import gpu_report_lines
        from pytest_gpuperf.report.sweep import benchmark_items, sweep_lines
        from pytest_gpuperf.report.throughput import throughput_lines

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
        from pytest_gpuperf.report.plots import PlotError, write_plots

        try:
            written = write_plots(report, folder)
        except PlotError as exc:
            self.notes.append(f"plots NOT written: {exc}")
            return
        self.notes.append(f"wrote {len(written)} plot(s) to {folder}")

    def savable(self) -> list[KernelRecord]:
        """Records fit to become baselines (see :func:`~.admission.refusal`)."""
        return [record for record in self.records if self._refusal(record) is None]

    @staticmethod
    def _refusal(record: KernelRecord) -> str | None:
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

    def _say(self, line: str) -> None:
        """Write a progress line to the terminal (nothing without a terminal reporter)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)

    def _save(self) -> list[str]:
        """Append this run to the baseline file; return the node ids of the tests it saved."""
        from pytest_benchmark.utils import get_commit_info

        entries: dict[str, dict[str, BaselineEntry]] = {}
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
            entries.setdefault(record.test_key, {})[record.backend] = BaselineEntry(
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
                sm_mhz=m.clocks.sm_mhz_median if m.clocks else None,
                memory_mhz=m.clocks.after.memory_mhz if m.clocks else None,
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
                return []
        saved = sum(len(v) for v in entries.values())
        from pytest_gpuperf.save_runs import report_child_save

        report_child_save(saved, skipped)
        self.notes.append(
            f"saved {saved} baseline(s) to {self.settings.baseline_path}"
            + (f"; {skipped} not saved (failed, simulated or contended)" if skipped else "")
        )
        return [record.nodeid for record in savable] if entries else []


def _save_runs(config: pytest.Config, settings: Settings, part: str) -> SaveRuns | None:
    """The extra processes of ``--gpuperf-save-runs``, for a run that saves, alone, first."""
    from pytest_gpuperf import save_runs

    return save_runs.SaveRuns(config, settings) if save_runs.wanted(settings, part) else None


def _confirmation(config: pytest.Config, settings: Settings, part: str) -> FreshConfirmation | None:
    """The fresh-process confirmation of suspected regressions, where this run has one."""
    from pytest_gpuperf import confirm

    if not confirm.wanted(settings, part):
        return None
    return confirm.FreshConfirmation(config, settings.baseline_path, settings.max_time)


def _device_peak(measurement: Measurement) -> int | None:
    """The device peak worth keeping: measured, and not the simulator's host memory."""
    peaks = measurement.memory
    return None if peaks is None or peaks.simulated else peaks.device_peak_bytes
