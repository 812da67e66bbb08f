"""Slot kinds: what each position of a tokenised sample holds (the data -> model protocol).

The data pipeline writes one code per position; the model fills every non-text position from the
vision side and never has to search token ids.
"""

from __future__ import annotations

TEXT, VISUAL, START, END, SKIP = 0, 1, 2, 3, 4
NEWLINE, SEPARATOR = 5, 6  # IXC-2.5 dynamic partition: after each row of tiles; between global and local views
IGNORE_INDEX = -100  # label of positions that carry no loss
