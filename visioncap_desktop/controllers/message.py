"""What a controller tells the user: it emits a Message, the window shows it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    level: str  # "info" or "warning"
    title: str
    text: str
    details: str = ""
    popup: bool = True  # False: status bar and log only
