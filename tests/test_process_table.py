"""The process table: ordering, filter, selection, tree, literal text, render cost, pixels."""

from __future__ import annotations

import dataclasses

import pytest
from textual.app import App, ComposeResult

from perftop.collectors.samples import ProcessRow
from perftop.tui.columns import cpu_time_text, human_bytes, layout, user_text
from perftop.tui.process_table import ProcessTable

from .support import MiB, fixed_rows, process_sample, row, run


class TableHost(App[None]):
    """Just the table, fed once with fixed rows."""

    def __init__(self, rows: tuple[ProcessRow, ...] | None = None, **options: object) -> None:
        super().__init__()
        self.rows = rows
        self.options = options
        self.messages: list[object] = []

    def compose(self) -> ComposeResult:
        yield ProcessTable(id="table", **self.options)  # type: ignore[arg-type]  # test knobs

    def on_mount(self) -> None:
        table = self.query_one(ProcessTable)
        table.update_rows(process_sample(self.rows))
        table.focus()

    def on_process_table_row_highlighted(self, message: ProcessTable.RowHighlighted) -> None:
        self.messages.append(message)

    def on_process_table_row_opened(self, message: ProcessTable.RowOpened) -> None:
        self.messages.append(message)

    def on_process_table_sort_changed(self, message: ProcessTable.SortChanged) -> None:
        self.messages.append(message)


def pids(table: ProcessTable) -> list[int]:
    return [r.pid for r in table.rows_shown]


def screen_lines(table: ProcessTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


# pure formatting ------------------------------------------------------------------------


def test_human_bytes_as_htop_shows_them() -> None:
    assert human_bytes(None) == ""
    assert human_bytes(0) == "0"
    assert human_bytes(512) == "512B"
    assert human_bytes(512 * 1024) == "512K"
    assert human_bytes(12.3 * MiB) == "12.3M"
    assert human_bytes(520 * MiB) == "520M"
    assert human_bytes(1.2 * 1024 * MiB) == "1.2G"


def test_cpu_time_in_htop_format() -> None:
    assert cpu_time_text(62.33) == "1:02.33"
    assert cpu_time_text(0.5) == "0:00.50"
    assert cpu_time_text(12 * 3600 + 3 * 60 + 10) == "12h03:10"
    assert cpu_time_text(150 * 3600) == "150h"


def test_user_names_are_cut_with_a_plus() -> None:
    assert user_text("postgres") == "postgres"
    assert user_text("longusername") == "longuse+"


def test_narrow_layout_keeps_the_essential_columns() -> None:
    wide = [c.key for c, _ in layout(139)]
    assert wide == [
        "pid", "user", "cpu", "mem", "rss", "read", "write", "threads", "state", "time",
        "nice", "command",
    ]  # fmt: skip
    narrow = [c.key for c, _ in layout(79)]
    assert narrow == ["pid", "user", "cpu", "mem", "rss", "state", "time", "command"]
    tiny = [c.key for c, _ in layout(40)]
    assert tiny == ["pid", "user", "cpu", "mem", "state", "command"]
    command, x = layout(79)[-1]
    assert x + command.width == 79 and command.width >= 30


# sorting ---------------------------------------------------------------------------------

EXPECTED_FIRST = {
    # key: (first pid in the natural direction, whether that direction is descending)
    "pid": (1, False),
    "user": (1010, False),  # alice; ties stay in pid order
    "cpu": (1200, True),
    "mem": (1200, True),
    "rss": (1200, True),
    "read": (1404, True),
    "write": (1400, True),
    "threads": (1900, True),
    "state": (1404, False),  # D < I < R < S < Z
    "time": (1400, True),
    "nice": (1600, True),
    "command": (1011, False),  # "-bash": '-' sorts before '/' and '['
}


@pytest.mark.parametrize("key", sorted(EXPECTED_FIRST))
@run
async def test_each_sort_key_orders_rows_and_the_same_key_inverts(key: str) -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        table.set_sort("pid" if key != "pid" else "cpu")
        table.set_sort(key)
        await pilot.pause()
        first, descending = EXPECTED_FIRST[key]
        assert table.sort_key == key and table.reverse is descending
        assert pids(table)[0] == first
        order = pids(table)
        table.set_sort(key)  # the same key again: the other direction
        await pilot.pause()
        assert table.reverse is (not descending)
        inverted = pids(table)
        assert inverted != order and set(inverted) == set(order)
        changed = [m for m in app.messages if isinstance(m, ProcessTable.SortChanged)]
        assert (changed[-1].key, changed[-1].reverse) == (key, not descending)


@run
async def test_sort_values_are_monotonic() -> None:
    app = TableHost(sort="cpu")
    async with app.run_test():
        table = app.query_one(ProcessTable)
        cpu = [r.cpu_percent for r in table.rows_shown]
        assert cpu == sorted(cpu, reverse=True)
        table.set_sort("rss", reverse=False)
        rss = [r.rss for r in table.rows_shown]
        assert rss == sorted(rss)


@run
async def test_sort_keys_p_m_t_and_invert() -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        await pilot.press("M")
        assert (table.sort_key, table.reverse) == ("mem", True)
        await pilot.press("T")
        assert (table.sort_key, table.reverse) == ("time", True)
        assert pids(table)[0] == 1400
        await pilot.press("I")
        assert (table.sort_key, table.reverse) == ("time", False)
        await pilot.press("P")
        assert (table.sort_key, table.reverse) == ("cpu", True)
        assert pids(table)[0] == 1200


@run
async def test_header_click_sorts_and_clicking_again_inverts() -> None:
    app = TableHost(sort="cpu")
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(ProcessTable)
        header = table.render_line(0).text
        assert "CPU%▼" in header
        x = header.index("MEM%")
        await pilot.click(ProcessTable, offset=(x + 1, 0))
        assert (table.sort_key, table.reverse) == ("mem", True)
        await pilot.click(ProcessTable, offset=(x + 1, 0))
        assert (table.sort_key, table.reverse) == ("mem", False)
        assert pids(table)[0] in (2, 3, 4, 5, 2000)  # no memory at all
        header = table.render_line(0).text
        assert "MEM%▲" in header and "CPU%▼" not in header
        x = header.index("USER")
        await pilot.click(ProcessTable, offset=(x, 0))
        assert (table.sort_key, table.reverse) == ("user", False)
        assert table.rows_shown[0].user == "alice"


# filter ----------------------------------------------------------------------------------


@run
async def test_filter_matches_pid_user_and_command_and_clearing_restores() -> None:
    app = TableHost()
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        everything = pids(table)
        assert len(everything) == 30
        table.set_filter("post")
        assert {r.user for r in table.rows_shown} == {"postgres"}
        table.set_filter("postgres: W")  # incremental and case-insensitive
        assert pids(table) == [1403]
        table.set_filter("www")  # the user
        assert sorted(pids(table)) == [1500, 1501, 1502]
        table.set_filter("1404")  # the pid
        assert pids(table) == [1404]
        table.set_filter("WORKER")  # command lines
        assert set(pids(table)) == {4, 1200, 1201, 1202, 1501, 1502}  # 4 is a kworker
        table.set_filter("no-such-thing")
        assert table.rows_shown == ()
        assert table.selected_row is None
        await pilot.pause()
        assert "no process matches no-such-thing" in "\n".join(screen_lines(table))
        table.set_filter("")
        assert pids(table) == everything


# selection --------------------------------------------------------------------------------


@run
async def test_selection_follows_the_process_when_its_row_moves() -> None:
    app = TableHost(sort="cpu")
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        await pilot.press("down", "down")
        chosen = table.selected_row
        assert chosen is not None and chosen.pid == 1404
        # Next tick: 1404 goes idle and drops to the bottom of the CPU order.
        rows = tuple(
            dataclasses.replace(r, cpu_percent=0.0) if r.pid == 1404 else r for r in fixed_rows()
        )
        table.update_rows(process_sample(rows))
        assert table.selected_row is not None and table.selected_row.pid == 1404
        assert pids(table).index(1404) > 2
        await pilot.pause()
        index, top = pids(table).index(1404), table.scroll_offset.y
        assert top <= index < top + table.size.height - 1  # still on screen, below the header
        assert any(line.startswith("   1404") for line in screen_lines(table))


@run
async def test_vanished_selection_clamps_to_the_same_index() -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        await pilot.press("end")
        assert table.selected_row is not None and table.selected_row.pid == 2100
        table.update_rows(process_sample(tuple(r for r in fixed_rows() if r.pid != 2100)))
        assert table.selected_row is not None and table.selected_row.pid == 2000
        await pilot.press("home", "down", "down")
        assert table.selected_row.pid == 3
        table.update_rows(process_sample(tuple(r for r in fixed_rows() if r.pid != 3)))
        assert table.selected_row.pid == 4  # the row now at index 2
        # Same pid, new start time: another process, so the selection does not stick.
        reused = tuple(
            dataclasses.replace(r, start_time=9999.0) if r.pid == 4 else r
            for r in fixed_rows()
            if r.pid != 3
        )
        await pilot.pause()
        app.messages.clear()
        table.update_rows(process_sample(reused))
        await pilot.pause()
        highlighted = [m for m in app.messages if isinstance(m, ProcessTable.RowHighlighted)]
        assert [m.row.start_time for m in highlighted] == [9999.0]


@run
async def test_down_highlights_and_enter_opens() -> None:
    app = TableHost(sort="cpu")
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        await pilot.pause()
        app.messages.clear()
        await pilot.press("down")
        await pilot.pause()
        highlighted = [m for m in app.messages if isinstance(m, ProcessTable.RowHighlighted)]
        assert [m.row.pid for m in highlighted] == [1201]
        assert highlighted[0].control is table
        await pilot.press("enter")
        await pilot.pause()
        opened = [m for m in app.messages if isinstance(m, ProcessTable.RowOpened)]
        assert [m.row.pid for m in opened] == [1201]


@run
async def test_click_selects_and_double_click_opens() -> None:
    app = TableHost(sort="cpu")
    async with app.run_test() as pilot:
        table = app.query_one(ProcessTable)
        await pilot.click(ProcessTable, offset=(2, 4))  # the header, then 3 rows above
        assert table.selected_row is not None and table.selected_row.pid == 1202
        await pilot.double_click(ProcessTable, offset=(2, 5))
        await pilot.pause()
        assert table.selected_row.pid == 2100
        opened = [m for m in app.messages if isinstance(m, ProcessTable.RowOpened)]
        assert [m.row.pid for m in opened] == [2100]


@run
async def test_page_down_scrolls_to_keep_the_cursor_visible() -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ProcessTable)
        await pilot.press("pagedown", "pagedown")
        await pilot.pause()
        index = pids(table).index(table.selected_row.pid)
        assert index == 22  # two pages of 11 rows below the header
        top = table.scroll_offset.y
        assert top <= index < top + 11
        lines = screen_lines(table)
        assert lines[0].lstrip().startswith("PID")  # the header stays put
        assert any(line.lstrip().startswith(str(table.selected_row.pid)) for line in lines[1:])


# tree ------------------------------------------------------------------------------------


@run
async def test_tree_puts_children_under_parents_with_guides() -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(ProcessTable)
        table.toggle_tree()
        assert table.tree
        order = pids(table)
        assert order[:6] == [1, 120, 301, 402, 1001, 1010]
        for r in table.rows_shown:
            if r.ppid in order:
                assert order.index(r.ppid) < order.index(r.pid)
        await pilot.pause()
        text = {line.split()[0]: line for line in screen_lines(table)[1:] if line.strip()}
        assert "├─ systemd-journald  /lib/systemd/" in text["120"]
        assert "│  ├─ postgres: checkpointer" in text["1401"]
        assert "│           ├─ python3 -m worker --queue=high" in text["1200"]
        assert "└─ [ksoftirqd/0]" in text["5"]
        # Sorting applies among siblings: by CPU, the hot worker leads its siblings.
        table.set_sort("cpu")
        order = pids(table)
        assert order.index(1200) < order.index(1300) < order.index(1301)
        table.toggle_tree()
        assert not table.tree and pids(table)[0] == 1200


# untrusted text --------------------------------------------------------------------------


@run
async def test_hostile_command_line_is_shown_literally_and_inert() -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(ProcessTable)
        table.set_filter("1300")
        await pilot.pause()
        line = table.render_line(1)
        assert "[red]x[/red] ^[[31mRED^[]0;title^G" in line.text
        for y in range(table.size.height):
            for segment in table.render_line(y):
                assert "\x1b" not in segment.text and "\x07" not in segment.text
        screenshot = app.export_screenshot()
        assert "[red]x[/red]" in screenshot
        assert "\x07" not in screenshot and "\x1b]0;" not in screenshot
        # The password in another command line stays off the screen.
        table.set_filter("agent")
        await pilot.pause()
        assert "s3cret" not in table.render_line(1).text
        assert "--password=****" in table.render_line(1).text


# render cost -----------------------------------------------------------------------------


@run
async def test_large_input_renders_only_the_visible_lines() -> None:
    many = tuple(
        row(10 + i, 1, f"user{i % 7}", f"/usr/bin/task --n {i}", cpu=(i * 37) % 100 / 1.5,
            rss=i * 4096, time=float(i))
        for i in range(5000)
    )  # fmt: skip
    app = TableHost(rows=many[:10], sort="cpu")
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ProcessTable)
        await pilot.pause()
        calls: list[int] = []
        draw = table.render_line

        def counted(y: int):  # type: ignore[no-untyped-def]
            calls.append(y)
            return draw(y)

        table.render_line = counted  # type: ignore[method-assign]  # counting spy
        table.update_rows(process_sample(many))
        await pilot.pause()
        assert len(table.rows_shown) == 5000
        assert 0 < len(calls) <= 2 * table.size.height
        assert max(calls) < table.size.height
        assert len(table._strips) <= table.size.height  # only visible rows were formatted
        await pilot.press("home")  # the selection followed its process down the list
        await pilot.pause()
        calls.clear()
        await pilot.press("down")
        await pilot.pause()
        assert sorted(calls) == [1, 2]  # the two cursor lines, not the screen


# pixels ----------------------------------------------------------------------------------


def test_snapshot_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(TableHost(sort="cpu"), terminal_size=(80, 24))


def test_snapshot_140x40(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(TableHost(sort="cpu"), terminal_size=(140, 40))


# the program first ------------------------------------------------------------------------

PYENV = "/root/.pyenv/versions/3.11.7/bin/python3"


@run
async def test_command_shows_the_program_name_first_highlighted_then_its_arguments() -> None:
    rows = (
        row(700, 1, "root", f"{PYENV} burner.py --seconds 60", cpu=99.0),
        row(701, 1, "root", f"{PYENV} -m perftop --pid 700", cpu=3.0),
        row(702, 1, "root", "[kworker/0:1-events]", cpu=1.0),
    )
    app = TableHost(rows=rows, sort="pid", reverse=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(ProcessTable)
        x = dict((c.key, x) for c, x in table._layout)["command"]  # noqa: SLF001
        lines = screen_lines(table)
        burner, perftop, kworker = (line[x:] for line in lines[1:4])
        # At 80 columns the two Python programs read apart: name and arguments come first.
        assert burner.startswith("python3 burner.py --seconds 60"), burner
        assert perftop.startswith("python3 -m perftop --pid 700"), perftop
        assert kworker.startswith("[kworker/0:1-events]")
        # The name stands out from its arguments (htop's basename highlighting).
        strip = table.render_line(2)  # not the cursor's line, which has its own colours
        styles = {}
        at = 0
        for segment in strip:
            for offset in range(len(segment.text)):
                styles[at + offset] = segment.style
            at += len(segment.text)
        name_style, argument_style = styles[x], styles[x + len("python3 ")]
        assert name_style.color != argument_style.color, (name_style, argument_style)
        assert name_style.bold and not argument_style.bold
    app = TableHost(rows=rows, sort="pid", reverse=False)
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(ProcessTable)
        # With room to spare, where the program lives follows.
        assert "python3 burner.py --seconds 60" in screen_lines(table)[1]
        assert "/root/.pyenv/versions/3.11.7/bin/" in screen_lines(table)[1]


@run
async def test_the_program_first_keeps_passwords_masked_and_filter_still_finds_the_path() -> None:
    app = TableHost(sort="pid", reverse=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(ProcessTable)
        table.set_filter("/opt/agent/bin")
        await pilot.pause()
        line = table.render_line(1).text
        assert "agent --password=****" in line and "s3cret" not in line
