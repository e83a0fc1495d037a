"""The city's view (C-1..C-3, D-2): the dashboard, data exports, status and final reports, the
hand-over and the erasure after it. This domain reads every other one and none reads it."""
