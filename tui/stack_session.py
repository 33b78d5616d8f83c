"""The profile on the Stacks screen and what the person can do with it.

One profile at a time: py-spy attached to a process (only after the approval gate said
yes), a program launched under pyinstrument (`perftop run`), or a saved file (`perftop
open`). This object turns the Stacks screen's requests into gate requests and collector
changes; the screen itself only shows the store's "stacks" source.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ..actions.process import ProcessTarget
from ..actions.stacks import AttachPySpy, DetachPySpy
from ..collectors.base import Collector
from ..collectors.stacks import export, files
from ..collectors.stacks.detect import why_not_python
from ..collectors.stacks.model import Mode, StackSample
from ..collectors.stacks.pyspy import PySpyOptions, PySpySampler
from .stacks import StacksScreen

if TYPE_CHECKING:
    from .app import PerftopApp

SOURCE = "stacks"


class StackSession:
    """The app's one profile: how it is sampled, and the requests made about it."""

    def __init__(self, app: PerftopApp, rate: int = 100) -> None:
        self.app = app
        self.rate = rate
        self.sampler: PySpySampler | None = None
        self.launched: Collector | None = None  # `perftop run`: the pyinstrument collector
        self.mode: Mode | None = None
        self._resumed_seen = 0
        self.showing = False  # the Stacks screen is on the screen stack

    @property
    def active(self) -> bool:
        """Whether there is a profile to show."""
        return self.mode is not None

    # starting --------------------------------------------------------------------------

    async def attach(self, target: ProcessTarget, options: PySpyOptions | None = None) -> bool:
        """Ask the gate to let py-spy read `target`; on yes, sample it and show the screen."""
        why = why_not_python(target.pid)
        if why is not None:  # said before asking: a yes could only end in py-spy failing
            self.app.notify(f"py-spy not attached: {why}", severity="error", markup=False)
            return False
        options = options or PySpyOptions(rate=self.rate)
        action = AttachPySpy(
            target, **dataclasses.asdict(options), engine=self.app.settings.sampler
        )
        outcome = await self.app.gate.request(action)
        if not outcome.ok:
            self.app.notify(
                f"py-spy not attached: {outcome.error or 'declined, nothing was done'}",
                severity="error" if outcome.error else "information",
                markup=False,
            )
            return False
        await self._stop_sampling()
        self.sampler = action.sampler()
        self.mode = self.sampler.mode
        self._resumed_seen = 0
        self._add(self.sampler)
        self.show()
        return True

    def launch(self, collector: Collector) -> None:
        """Show the profile of a program perftop launched (pyinstrument inside it)."""
        self.launched, self.mode = collector, "pyinstrument"
        self._add(collector)
        self.show()

    def open(self, sample: StackSample) -> None:
        """Show a saved profile (`perftop open FILE`): no collector, just the sample."""
        self.mode = "file"
        self.app.store.put(SOURCE, sample)
        self.show()

    def _add(self, collector: Collector) -> None:
        if self.app.collection is not None:
            self.app.collection.add(collector)

    def show(self) -> None:
        """Bring the Stacks screen up (it stays until the person leaves it)."""
        if self.mode is None:
            self.app.notify("No profile yet: select a process and press a to attach.")
            return
        if self.showing:
            return

        def left(_: object = None) -> None:
            self.showing = False

        self.showing = True
        self.app.push_screen(StacksScreen(self.mode), left)

    # the screen's requests ---------------------------------------------------------------

    async def change_options(self, message: StacksScreen.OptionsChanged) -> None:
        sampler = self.sampler
        if sampler is None:
            return
        options = PySpyOptions(
            rate=sampler.options.rate,
            blocking=message.blocking,
            idle=message.idle,
            gil=message.gil,
            native=message.native and message.blocking,
            subprocesses=message.subprocesses,
        )
        if options.blocking and not sampler.options.blocking:
            # Blocking pauses the target on every sample: a new decision, so a new prompt.
            target = self._target()
            if target is not None:
                await self.attach(target, options)
            return
        sampler.set_options(options)
        if not options.blocking:
            self.mode = sampler.mode

    async def dump(self) -> None:
        """Every thread's stack now, over the Stacks screen that asked for it. The dump
        takes a moment: if that screen was left (or the app is ending) by the time it is
        there, it is dropped, never shown over another screen."""
        screen = next((s for s in self.app.screen_stack if isinstance(s, StacksScreen)), None)
        if screen is None:
            return
        if self.sampler is None:
            self.app.notify("The now view needs py-spy attached.", severity="warning")
            return
        try:
            stacks = await self.sampler.now()
        except Exception as exc:  # noqa: BLE001 - py-spy's own failure, shown in words
            if self.app.is_running:
                self.app.notify(f"py-spy dump failed: {exc}", severity="error", markup=False)
            return
        if self.app.is_running and screen in self.app.screen_stack:
            screen.show_dump(stacks)

    async def export(self, message: StacksScreen.ExportRequested) -> None:
        try:
            if message.fmt == "pyisession":
                path = await asyncio.to_thread(self._save_session, Path(message.path))
            else:
                path = await asyncio.to_thread(
                    export.write, message.profile, Path(message.path), "perftop", message.fmt
                )
        except (OSError, ValueError) as exc:
            self.app.notify(f"Export failed: {exc}", severity="error", markup=False)
            return
        self.app.notify(f"Exported {message.fmt} to {path}", markup=False)

    def _save_session(self, path: Path) -> Path:
        """A pyinstrument session: the launched program's own full-run session when there
        is one, otherwise one made from the windows held (the whole profile, unfiltered)."""
        save = getattr(self.launched, "save_session", None)
        if callable(save):
            return Path(save(path))
        sample = self.app.store.latest(SOURCE, StackSample)
        if sample is None:
            raise ValueError("no profile to save yet")
        return files.save_session(sample, path)

    async def detach(self) -> None:
        """Stop sampling (audited) and leave the profile on screen, marked detached."""
        sampler = self.sampler
        if sampler is None:
            return
        await self.app.gate.request(DetachPySpy(sampler))
        await self._stop_sampling()
        self.app.notify("py-spy detached; the last profile stays on screen.")

    async def close(self) -> None:
        """The screen was left or the app is quitting: stop whatever samples."""
        if self.sampler is not None:
            await self.app.gate.request(DetachPySpy(self.sampler))
        await self._stop_sampling()
        if self.launched is not None and self.app.collection is not None:
            self.app.collection.remove(SOURCE)
        self.launched = None

    async def _stop_sampling(self) -> None:
        sampler, self.sampler = self.sampler, None
        if sampler is None:
            return
        if self.app.collection is not None:
            self.app.collection.remove(SOURCE)
        await sampler.close()

    def _target(self) -> ProcessTarget | None:
        sample = self.app.store.latest(SOURCE, StackSample)
        if sample is None:
            return None
        from .app import process_target

        return process_target(sample.target.pid)

    # audit of what the sampler did on its own ------------------------------------------------

    def check_resumed(self) -> None:
        """Audit every SIGCONT the sampler sent to a target it found stopped."""
        sample = self.app.store.latest(SOURCE, StackSample)
        if sample is None or sample.resumed <= self._resumed_seen:
            return
        count = sample.resumed - self._resumed_seen
        self._resumed_seen = sample.resumed
        self.app.gate.note(  # never raises: an unwritable record is kept and shown
            action="resume-after-py-spy",
            target=f"pid {sample.target.pid}",
            details={"pid": sample.target.pid, "signals": count},
            decision="automatic",
            duration_s=0.0,
            outcome=f"sent SIGCONT to {sample.target.pid}: it was left stopped after sampling",
            error=None,
        )
        self.app.notify(
            f"perftop resumed process {sample.target.pid}, found stopped after sampling.",
            severity="warning",
        )
