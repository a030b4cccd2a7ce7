"""How ``mfdan predict`` writes its answers (:class:`mfdan.predict.run.Answer`): a table of text lines, or one
JSON object per answer per line.

A text row is ``input  label  p(class)...  margin  onset -> apex``; what was spotted is said in brackets: ``(apex
spotted)`` for a clip whose apex the ``flow_peak`` policy chose, ``(interval spotted by SPOTTER, a-b s)`` for a
micro-expression found in a long recording, whose row reads ``onset -> apex -> offset`` and whose input names
the interval (``video.mp4 [120-131]``). An answer whose margin (top two probabilities' difference) is under
``--min-margin`` ends in ``[unsure]``."""
from __future__ import annotations

import json

from mfdan.predict.run import Answer


class Renderer:
    """Text or JSON lines for answers of a model with ``classes``; ``timings`` adds the seconds per part."""

    def __init__(self, classes: tuple[str, ...], *, as_json: bool = False, timings: bool = False) -> None:
        self.classes, self.as_json, self.timings = tuple(classes), as_json, timings

    def header(self) -> list[str]:
        if self.as_json:
            return []
        return [f"{'input':<40} {'label':<10} " + " ".join(f"{'p(' + c + ')':>12}" for c in self.classes)
                + f" {'margin':>8}  onset -> apex"]

    def lines(self, a: Answer) -> list[str]:
        if self.as_json:
            return [json.dumps(a.record(self.timings))]
        name, frames, said = a.input, f"{a.onset} -> {a.apex}", ""
        if a.apex_source == "interval":
            assert a.times_s is not None
            name = f"{a.input} [{a.onset}-{a.offset}]"
            frames = f"{a.onset} -> {a.apex} -> {a.offset}"
            said = f" (interval spotted by {a.spotter}, {a.times_s[0]:.2f}-{a.times_s[2]:.2f} s)"
        elif a.apex_source == "flow_peak":
            said = " (apex spotted)"
        row = f"{name:<40} {a.label:<10} " + " ".join(f"{a.probabilities[c]:>12.4f}" for c in self.classes)
        out = [f"{row} {a.margin:>8.4f}  {frames}{said}" + ("  [unsure]" if a.unsure else "")]
        if self.timings and a.apex_source != "interval":
            out.append("    seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in a.seconds.items()))
        return out
