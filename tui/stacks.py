"""The Stacks screen: which Python functions take the time in one process, live.

The app pushes a `StacksScreen` and calls `show(store)` on store changes; the screen reads
the "stacks" source (a `StackSample`: the history of sampling windows) and its status, and
shows one of three views of the selected span, thread and options:

- **Top**: functions by own time (they were running) or total time (anywhere on the stack);
- **Tree**: the call tree, hottest path expanded, labelled with total % and own %;
- **Icicle**: the tree as rows of boxes, callers on top (icicle.py).

Aggregation is `collectors/stacks/profile.py`'s: the screen selects windows, merges them
and builds the tree once per new sample or changed filter, and only the visible view is
redrawn (the others catch up when shown). Enter drills into a frame in the tree or the
icicle; the drill is a path of functions shared by all three views (the top table then
ranks the functions under that frame, as % of its samples), so it survives each refresh.

Keys (ids `stacks.*`, remappable): `v` view, `1` `2` `3` span 10 s / 60 s / 5 min, `s` sort
by own ↔ total, `/` filter the top table, `h` thread, `i` shows or hides idle samples
(always sampled; hidden at first, the header says how many), `c` native (C)
frames, `g` GIL holders only, `p` subprocesses, `b` blocking mode, `n` every thread's stack
now, `e` export, `d` detach, Enter drill in, Backspace back out, Escape back out or leave.
`t` is not used: on the dashboard it means the process tree. Sampler options are only asked
for (`OptionsChanged`); the app restarts the sampler, through the gate where it must.

Naming (collectors/stacks/names.py), the same in every view and for every profiler:
qualified function names, files as `<stdlib>/json/encoder.py`, `<site>/pkg/mod.py` or the
shortest ending of their path no other file of the profile shares, and always `file:line`.

The views' widgets (the top table, the call tree, the thread picker, the now view) are in
stack_views.py. Function and file names are untrusted: every one is drawn through
`literal`/`neutralise`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from ..collectors.stacks.model import Mode, Stack, StackSample
from ..collectors.stacks.names import Names
from ..collectors.stacks.profile import (
    CallNode,
    Profile,
    merge,
    select,
    zoom,
)
from ..redact import redact
from ..store import STARTING, SourceStatus, Store
from .export_dialog import ExportDialog, ExportFormat
from .filter_bar import FilterBar, shown
from .footer import KeyFooter
from .icicle import Icicle, Path
from .stack_views import (
    CallTree,
    DumpScreen,
    FunctionTable,
    SortBy,
    ThreadPicker,
    idle_text,
    percent,
    span_text,
    subtree,
)
from .statics import show_text
from .text import literal

View = Literal["top", "tree", "icicle"]

VIEWS: tuple[View, ...] = ("top", "tree", "icicle")
VIEW_NAMES: dict[View, str] = {"top": "Top functions", "tree": "Call tree", "icicle": "Icicle"}
SPANS: tuple[float, ...] = (10.0, 60.0, 300.0)
"""The spans keys 1, 2 and 3 show, in seconds."""

MODE_NAMES: dict[str, str] = {
    "py-spy": "py-spy nonblocking",
    "py-spy-blocking": "py-spy blocking (pauses the target on every sample)",
    "austin": "austin (one attach, never pauses the target)",
    "pyinstrument": "pyinstrument",
    "file": "saved profile",
}
ATTACHED = frozenset(("py-spy", "py-spy-blocking", "austin"))
"""The modes of a sampler attached to a live process (options, the now view)."""
ENDED = "process ended — last data kept"
WAITING = "waiting for the first samples…"


class StacksScreen(Screen[None]):
    """The Stacks pane: top functions, call tree and icicle of one profiled process."""

    AUTO_FOCUS = ""  # not the first focusable widget: the visible view takes the focus

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "cycle_view", "View", id="stacks.view"),
        Binding("1", "span(0)", "10 s", show=False, id="stacks.span-10s"),
        Binding("2", "span(1)", "60 s", show=False, id="stacks.span-60s"),
        Binding("3", "span(2)", "5 min", show=False, id="stacks.span-5min"),
        Binding("s", "sort", "Sort", id="stacks.sort"),
        Binding("slash", "filter", "Filter", show=False, id="stacks.filter"),
        Binding("h", "thread", "Thread", id="stacks.thread"),
        Binding("i", "option('idle')", "Idle", id="stacks.idle"),
        Binding("c", "option('native')", "Native", show=False, id="stacks.native"),
        Binding("g", "option('gil')", "GIL", show=False, id="stacks.gil"),
        Binding("p", "option('subprocesses')", "Subprocs", show=False, id="stacks.subprocesses"),
        Binding("b", "option('blocking')", "Blocking", show=False, id="stacks.blocking"),
        Binding("n", "dump", "Now", id="stacks.dump"),
        Binding("e", "export", "Export", id="stacks.export"),
        Binding("d", "detach", "Detach", id="stacks.detach"),
        Binding("backspace", "back_out", "Back out", show=False, id="stacks.back-out"),
        Binding("escape", "escape", "Back", show=False, id="stacks.escape"),
    ]
    DEFAULT_CSS = """
    StacksScreen { layout: vertical; }
    StacksScreen #stacks-header {
        height: auto; padding: 0 1; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    StacksScreen #stacks-notice { height: auto; padding: 0 1; color: $warning; text-style: bold; }
    StacksScreen #stacks-status {
        height: 1fr; padding: 1 2; color: $error; text-style: bold;
    }
    StacksScreen #stacks-status.-waiting { color: $foreground-muted; text-style: italic; }
    StacksScreen CallTree { height: 1fr; background: $surface; }
    StacksScreen #stacks-icicle { height: 1fr; }
    StacksScreen #icicle-info { height: 1; padding: 0 1; background: $panel; }
    """

    class OptionsChanged(Message):
        """The person changed a sampler option: the app restarts the sampler with them
        (blocking mode pauses the target on every sample: ask the gate again)."""

        def __init__(
            self, *, idle: bool, native: bool, gil: bool, subprocesses: bool, blocking: bool
        ) -> None:
            super().__init__()
            self.idle, self.native, self.gil = idle, native, gil
            self.subprocesses, self.blocking = subprocesses, blocking

    class DumpRequested(Message):
        """Key `n`: the app runs `py-spy dump` and calls `show_dump` with the stacks."""

    class ExportRequested(Message):
        """Export `profile` (what is on screen: span, thread and idle filter) to `path`."""

        def __init__(self, path: str, fmt: ExportFormat, profile: Profile) -> None:
            super().__init__()
            self.path, self.fmt, self.profile = path, fmt, profile

    class DetachRequested(Message):
        """Key `d`: stop sampling this process."""

    def __init__(
        self,
        mode: Mode = "py-spy",
        *,
        idle: bool = False,
        native: bool = False,
        gil: bool = False,
        subprocesses: bool = False,
        span: float = SPANS[0],
        view: View = "top",
    ) -> None:
        super().__init__()
        self.mode: Mode = mode
        """How the target is profiled until a sample says otherwise."""
        self.idle, self.native, self.gil, self.subprocesses = idle, native, gil, subprocesses
        self.blocking = mode == "py-spy-blocking"
        self.span = span
        """Seconds of windows shown (keys 1 2 3)."""
        self.view: View = view
        self.sort_by: SortBy = "own"
        self.thread: str | None = None
        """The thread shown, or None for every thread."""
        self.path: Path = ()
        """The frame drilled into, as a path of functions from the root (() = everything)."""
        self.sample: StackSample | None = None
        self.status: SourceStatus = STARTING
        self.profile: Profile | None = None
        """What the views show: the merged windows of the span, after thread and idle."""
        self._calls: CallNode | None = None
        self.names = Names()
        """How the views show the profile's files (names.py), made once per profile."""
        self._profile_key: tuple[object, ...] | None = None
        self._stale: set[View] = set(VIEWS)
        self._composed = False

    # reading the store ------------------------------------------------------------------------

    def show(self, store: Store) -> None:
        """Read the "stacks" sample and status; recompute and redraw only if they changed."""
        sample = store.latest("stacks", StackSample)
        status = store.status("stacks")
        if sample is self.sample and status == self.status:
            return
        self.sample, self.status = sample, status
        self._recompute()

    def show_dump(self, stacks: tuple[Stack, ...]) -> None:
        """Show every thread's current stack (the app's answer to `DumpRequested`)."""
        self.app.push_screen(DumpScreen(stacks))

    @property
    def calls(self) -> CallNode | None:
        """The call tree of `profile`, built when a view or a drill first needs it (the top
        table alone does not)."""
        if self._calls is None and self.profile is not None:
            self._calls = self.profile.call_tree()
        return self._calls

    @property
    def focus_node(self) -> CallNode | None:
        """The node drilled into (the root when not drilled)."""
        return None if self.calls is None else zoom(self.calls, self.path)

    @property
    def shown_mode(self) -> str:
        return self.sample.target.mode if self.sample is not None else self.mode

    def _recompute(self, reset_tree: bool = False) -> None:
        sample = self.sample
        # By identity: comparing samples by value would walk every window.
        key = (id(sample), self.span, self.thread, self.idle)
        if sample is None:
            self.profile = self._calls = None
        elif key != self._profile_key:
            # A saved file is one window of its whole length: a span would cut it off.
            whole = sample.target.mode == "file"
            windows = sample.windows if whole else select(sample.windows, self.span)
            threads = None if self.thread is None else (self.thread,)
            self.profile = merge(windows, threads, include_idle=self.idle)
            self.names = Names(f.file for stack, _ in self.profile.stacks for f in stack.frames)
            self._calls = None
        self._profile_key = key
        # A drilled frame that left the span: back out to its nearest caller still there.
        while self.path and self.focus_node is None:
            self.path = self.path[:-1]
            reset_tree = True
        self._stale = set(VIEWS)
        self._redraw(reset_tree)

    # drawing --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="stacks-header")
        yield Static("", id="stacks-notice")
        yield Static("", id="stacks-status")
        yield FunctionTable(id="stacks-top")
        yield CallTree(id="stacks-tree")
        with Vertical(id="stacks-icicle"):
            yield Icicle(id="icicle")
            yield Static("", id="icicle-info")
        yield FilterBar("function name", input_id="stacks-filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._composed = True
        self._redraw()

    def _redraw(self, reset_tree: bool = False) -> None:
        if not self._composed:
            return
        show_text(self.query_one("#stacks-header", Static), self.header_text())
        # The data of an ended process stays on screen whatever the sampler says since;
        # its failure is then one more notice.
        ended = self.sample is not None and self.sample.ended
        failing = self.status.state == "failing" and not ended
        waiting = not failing and self.profile is None
        status = self.query_one("#stacks-status", Static)
        status.display = failing or waiting
        status.set_class(waiting, "-waiting")
        if failing:
            message = literal(self.status.message or "the sampler failed")
            message.no_wrap = False
            if self.status.retry_in is not None:
                message.append(f"\n\nretrying in {self.status.retry_in:.0f} s", "dim")
            status.update(message)
        elif waiting:
            status.update(WAITING)
        live = not (failing or waiting)
        widgets = {
            "top": self.query_one(FunctionTable),
            "tree": self.query_one(CallTree),
            "icicle": self.query_one("#stacks-icicle"),
        }
        for view, widget in widgets.items():
            widget.display = live and view == self.view
        if live and self.view in self._stale:
            self._stale.discard(self.view)
            self._draw_view(reset_tree)
        notice = self.query_one("#stacks-notice", Static)
        notes = self.notices()
        notice.display = bool(notes)
        show_text(notice, literal(" · ".join(notes)))
        if live and self.focused is None:
            self._focus_view()

    def notices(self) -> list[str]:
        """ "Process ended" (and why sampling stopped), the sampler's own notice."""
        sample = self.sample
        if sample is None:
            return []
        # A saved profile "ended" long ago: its notice says where it came from instead.
        notes = [ENDED] if sample.ended and sample.target.mode != "file" else []
        if sample.ended and self.status.state == "failing" and self.status.message:
            notes.append(self.status.message)
        return notes + ([sample.notice] if sample.notice else [])

    def _draw_view(self, reset_tree: bool) -> None:
        profile = self.profile
        if profile is None:
            return
        if self.view == "top":
            stats = subtree(profile, self.path).top_functions(self.sort_by)
            self.query_one(FunctionTable).update(stats, self.sort_by, self.names)
            return
        node = self.focus_node
        if node is None:
            return
        if self.view == "tree":
            self.query_one(CallTree).show(node, reset_tree, self.names)
        else:
            self.query_one(Icicle).show(node, self.names)

    def _focus_view(self) -> None:
        target = {"top": "#stacks-top", "tree": "#stacks-tree", "icicle": "#icicle"}[self.view]
        self.query_one(target).focus()

    def header_text(self) -> Text:
        """Target, mode, rate, coverage, span, thread, toggles, notices, drill path."""
        sample, profile = self.sample, self.profile
        lines: list[Text] = []
        if sample is not None:
            target = sample.target
            who = "file" if target.mode == "file" else f"PID {target.pid}"  # a file has no PID
            line = Text(f"{who} ", style="bold", end="")
            line.append_text(literal(redact(target.command)))
            if target.python:
                line.append_text(literal(f"  Python {target.python}", "dim"))
            lines.append(line)
        line = Text(MODE_NAMES.get(self.shown_mode, self.shown_mode), end="")
        clockless = self.shown_mode == "file" and profile is not None and profile.sampled <= 0
        if profile is not None and clockless:
            # A file of counts alone (speedscope unit "none"): no rate to give, not 0 Hz.
            line.append(f" · no times in the file · {profile.samples} samples")
        elif profile is not None:
            rate = f"{profile.achieved_rate:.1f} Hz"
            if profile.requested_rate > 0:
                rate += f" of {profile.requested_rate:g} Hz"
            line.append(f" · {rate} · coverage {100 * profile.coverage:.1f}%")
            line.append(f" · {profile.samples} samples")
        if sample is not None and sample.lost_text:
            # A window py-spy could not read, even retried, is a gap in the profile.
            line.append(f" · {sample.lost_text}", "bold")
        lines.append(line)
        thread = literal(self.thread) if self.thread is not None else Text("all", end="")
        if self.shown_mode == "file":
            length = (
                "" if profile is None or clockless else f" ({span_text(round(profile.span, 1))})"
            )
            line = Text(f"span whole file{length} · thread ", end="")
        else:
            line = Text(f"span {span_text(self.span)} · thread ", end="")
        line.append_text(thread)
        if profile is not None:
            line.append(f" · {idle_text(profile, self.idle)}")
        toggles = self._toggles()
        if toggles:  # pyinstrument and saved files have no sampler options to show
            on = [name for name, value in toggles if value]
            line.append(f" · options: {', '.join(on) if on else 'none'}")
        lines.append(line)
        line = Text(end="")
        for view in VIEWS:
            style = "reverse bold" if view == self.view else "dim"
            line.append(f" {VIEW_NAMES[view]} ", style)
        line.append(f"  sort {self.sort_by}", "dim")
        node = self.focus_node if self.path else None  # no call tree unless drilled
        if node is not None and self.calls is not None:
            line.append("  in ", "dim")
            line.append_text(literal(" › ".join(name for name, _ in self.path)))
            line.append(f" ({percent(node.total, self.calls.total):.1f}%)", "dim")
        lines.append(line)
        return Text("\n", no_wrap=True, overflow="ellipsis", end="").join(lines)

    def _toggles(self) -> list[tuple[str, bool]]:
        toggles: list[tuple[str, bool]] = []  # idle has its own words in the header
        if self.shown_mode in ATTACHED:
            toggles += [
                ("native", self.native),
                ("GIL only", self.gil),
                ("subprocs", self.subprocesses),
                ("blocking", self.blocking),
            ]
        return toggles

    # keys --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        py_spy = self.shown_mode in ATTACHED
        if action == "option" and parameters and parameters[0] != "idle":
            return py_spy  # pyinstrument and saved files have no such sampler options
        if action == "dump":
            return py_spy
        if action in ("detach", "span"):
            return self.shown_mode != "file"  # a saved file is shown whole, never sampled
        return True

    def action_cycle_view(self) -> None:
        """Top functions → call tree → icicle → top functions."""
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def set_view(self, view: View) -> None:
        self.view = view
        self._redraw()
        self._focus_view()

    def action_span(self, index: int) -> None:
        """Show the last 10 s, 60 s or 5 min."""
        self.span = SPANS[index]
        self._recompute()

    def action_sort(self) -> None:
        """Rank the top table by own time, or by total time."""
        self.sort_by = "total" if self.sort_by == "own" else "own"
        self._stale.add("top")
        self._redraw()

    def action_filter(self) -> None:
        if self.view != "top":
            self.set_view("top")
        box = self.query_one("#stacks-filter", Input)
        shown(box, True)
        box.focus()

    @on(Input.Changed, "#stacks-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(FunctionTable).set_filter(event.value)

    @on(Input.Submitted, "#stacks-filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        shown(self.query_one("#stacks-filter", Input), bool(event.value))
        self._focus_view()

    def action_thread(self) -> None:
        """Pick the thread to show (or every thread)."""
        names = self.sample.threads if self.sample is not None else ()
        stats = {t.name: t for t in self.profile.threads} if self.profile is not None else {}
        choices: list[tuple[str, Text]] = [("all", Text("all threads", end=""))]
        for i, name in enumerate(names):
            label = literal(name)
            stat = stats.get(name)
            if stat is not None:
                label.append(f"  {stat.samples} samples", "dim")
                if stat.idle_only:
                    label.append("  idle", "dim italic")
            choices.append((f"thread-{i}", label))
        current = "all" if self.thread not in names else f"thread-{names.index(self.thread)}"

        def picked(key: str | None) -> None:
            if key is None:
                return
            self.set_thread(None if key == "all" else names[int(key.removeprefix("thread-"))])

        self.app.push_screen(ThreadPicker(choices, current), picked)

    def set_thread(self, name: str | None) -> None:
        """Show only the thread called `name` (None: every thread)."""
        self.thread = name
        self._recompute(reset_tree=True)

    def action_option(self, option: str) -> None:
        """Flip a sampler option and ask the app to restart the sampler with it; idle
        samples are always taken, so `i` only shows or hides them."""
        setattr(self, option, not getattr(self, option))
        if option == "idle":
            self._recompute()
            return
        self.post_message(
            self.OptionsChanged(
                idle=self.idle,
                native=self.native,
                gil=self.gil,
                subprocesses=self.subprocesses,
                blocking=self.blocking,
            )
        )
        self._redraw()

    def action_dump(self) -> None:
        self.post_message(self.DumpRequested())

    def action_detach(self) -> None:
        self.post_message(self.DetachRequested())

    def action_export(self) -> None:
        profile = self.profile
        if profile is None or not profile.samples:
            self.notify("Nothing to export yet.", severity="warning")
            return
        stem = f"perftop-{self.sample.target.pid}" if self.sample is not None else "perftop"

        def answered(answer: tuple[str, ExportFormat] | None) -> None:
            if answer is not None:
                self.post_message(self.ExportRequested(answer[0], answer[1], profile))

        self.app.push_screen(ExportDialog(stem), answered)

    @on(CallTree.Drilled)
    @on(Icicle.ZoomIn)
    def _drill(self, event: CallTree.Drilled | Icicle.ZoomIn) -> None:
        event.stop()
        self.drill(event.path)

    @on(Icicle.ZoomOut)
    def _zoom_out(self, event: Icicle.ZoomOut) -> None:
        event.stop()
        self.action_back_out()

    @on(Icicle.Highlighted)
    def _icicle_highlighted(self, event: Icicle.Highlighted) -> None:
        node, info = event.node, self.query_one("#icicle-info", Static)
        whole = self.calls.total if self.calls is not None else 0
        if node is None or node.frame is None:
            info.update(Text("↑↓←→ select · Enter zooms in · Backspace zooms out", "dim"))
            return
        text = literal(self.names.label(node.frame), "bold")
        text.append(
            f"  total {percent(node.total, whole):.1f}% ({node.total})"
            f"  own {percent(node.own, whole):.1f}% ({node.own})",
            "dim",
        )
        info.update(text)

    def drill(self, path: Path) -> None:
        """Show only the calls under the frame at `path` in every view."""
        if self.calls is None or zoom(self.calls, path) is None:
            return
        self.path = path
        self._stale = set(VIEWS)
        self._redraw(reset_tree=True)

    def action_back_out(self) -> None:
        """Back out of a drill, one caller at a time."""
        if self.path:
            self.drill(self.path[:-1])

    def action_escape(self) -> None:
        box = self.query_one("#stacks-filter", Input)
        if box.has_focus:
            box.value = ""
            shown(box, False)
            self._focus_view()
        elif self.path:
            self.action_back_out()
        elif len(self.app.screen_stack) > 1:
            self.dismiss()
