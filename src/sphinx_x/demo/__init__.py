"""The demo world (a small corpus in real public formats) and the ``make demo`` runner."""
