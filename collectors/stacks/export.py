"""Export a profile: speedscope JSON and collapsed stacks (flamegraph.pl).

speedscope: one "sampled" profile per thread (named after it), following
https://www.speedscope.app/file-format-schema.json: `$schema`, `shared.frames` (each frame
once: name, file, line), `profiles[i] = {type: "sampled", name, unit: "none", startValue: 0,
endValue: <samples>, samples: [[frame indices root first], ...], weights: [count, ...]}`,
`exporter`, `name`. Weights are sample counts (unit "none"), so speedscope shows samples.
Counts alone lose the clock, so a `perftop` key (which speedscope ignores) keeps the
requested rate, the sampled seconds and the start time for `perftop open`.

Collapsed stacks: one line per distinct stack, `thread;frame;frame;... count`, root first,
which flamegraph.pl, inferno and speedscope read. The format has no escaping, so in names
`;` becomes `:`, and newlines, carriage returns and tabs become spaces. A frame is written
as `name (file:line)` (py-spy's form); the count is always the last space-separated field,
so spaces inside frames are safe for every reader, which splits on the last space.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .model import Frame
from .profile import Profile

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
EXPORTER = "perftop"

_UNSAFE = re.compile(r"[\r\n\t]")


def collapsed_name(text: str) -> str:
    """`text` safe inside a collapsed-stack line: no `;`, no line or tab breaks."""
    return _UNSAFE.sub(" ", text.replace(";", ":"))


def collapsed(profile: Profile, threads: bool = True) -> str:
    """The profile as collapsed stacks, one line per distinct stack (root first)."""
    merged: dict[str, int] = {}
    for stack, count in profile.stacks:
        parts = [collapsed_name(stack.thread or "thread")] if threads else []
        parts += [collapsed_name(frame.label) for frame in stack.frames]
        if not parts:
            continue
        key = ";".join(parts)
        merged[key] = merged.get(key, 0) + count
    return "".join(f"{key} {count}\n" for key, count in merged.items())


def speedscope(profile: Profile, name: str = "perftop") -> dict[str, object]:
    """The profile as a speedscope document (a dict ready for `json.dumps`)."""
    frames: list[dict[str, object]] = []
    index: dict[Frame, int] = {}

    def frame_index(frame: Frame) -> int:
        found = index.get(frame)
        if found is None:
            found = index[frame] = len(frames)
            entry: dict[str, object] = {"name": frame.name or "?"}
            if frame.file:
                entry["file"] = frame.file
            if frame.line:
                entry["line"] = frame.line
            frames.append(entry)
        return found

    per_thread: dict[str, tuple[list[list[int]], list[int]]] = {}
    for stack, count in profile.stacks:
        samples, weights = per_thread.setdefault(stack.thread or "thread", ([], []))
        samples.append([frame_index(f) for f in stack.frames])
        weights.append(count)
    profiles = [
        {
            "type": "sampled",
            "name": thread,
            "unit": "none",
            "startValue": 0,
            "endValue": sum(weights),
            "samples": samples,
            "weights": weights,
        }
        for thread, (samples, weights) in sorted(per_thread.items())
    ]
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": name,
        "activeProfileIndex": 0,
        "exporter": EXPORTER,
        "perftop": {
            "rate": profile.requested_rate,
            "seconds": profile.sampled,
            "started": profile.started,
        },
    }


def write(
    profile: Profile, path: str | Path, name: str = "perftop", fmt: str | None = None
) -> Path:
    """Write the profile to `path` as `fmt` ("speedscope" or "collapsed"); without `fmt`,
    speedscope JSON for a `.json` path and collapsed stacks otherwise (`.txt`, `.folded`,
    `.collapsed`). Returns the absolute path written."""
    target = Path(path).expanduser()
    if fmt is None:
        fmt = "speedscope" if target.suffix.lower() == ".json" else "collapsed"
    if fmt == "speedscope":
        text = json.dumps(speedscope(profile, name), ensure_ascii=True)
    elif fmt == "collapsed":
        text = collapsed(profile)
    else:
        raise ValueError(f"unknown export format {fmt!r}: speedscope or collapsed")
    target.write_text(text, encoding="utf-8")
    return target.resolve()
