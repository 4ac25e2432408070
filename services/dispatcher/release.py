"""When an attempt's text may be shown (`release` on its `started` delta), decided before
its first delta, so an answer is never half live.

    the attempt                                          release
    continues text already shown live                    live (its beginning is shown)
    its answer may be replaced by the scorer (an         final, in every mode: held back
      escalating model, a local answer the pre-release     until scored (they are fast),
      check may set aside; core/escalation_scope.py)       never shown and then swapped
    stream mode buffered (or none given)                 attempt
    stream mode live                                     live
    stream mode auto                                     live when the model that would
                                                           take over first, should this
                                                           attempt fail mid-answer, can
                                                           continue it; else attempt

"Can continue" for `auto` means the catalogue's `accepts_continuation` and an answer the
scorer would not replace: a continuation by a model whose answer may be escalated could
still be swapped, and `auto` promises the caller one seamless answer. A caller who asked
for `live` is continued by such a model too, and the app announces a replacement
(`restart`) if the scorer then sets the answer aside.
"""

from __future__ import annotations

from schemas.delta import Release
from schemas.query import StreamMode

DEFAULT_MODE: StreamMode = "buffered"
"""What the dispatcher reads a query without `stream_mode` as (older apps, other callers)."""


def release_for(
    mode: StreamMode | None,
    *,
    continues: bool = False,
    replaceable: bool = False,
    takeover_continues: bool = False,
) -> Release:
    """The release of one attempt (see the module table).

    `continues`: the attempt continues text already shown; `replaceable`: the scorer may set
    its answer aside; `takeover_continues`: the first model tried should it fail mid-answer
    would continue its text seamlessly (accepts continuation, not replaceable).
    """
    if continues:
        return "live"
    if replaceable:
        return "final"
    mode = mode or DEFAULT_MODE
    if mode == "live":
        return "live"
    if mode == "auto" and takeover_continues:
        return "live"
    return "attempt"
