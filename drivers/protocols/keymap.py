"""Linux key events -> text, for scanners read through evdev. Pure: no evdev import, no I/O.

A scanner in keyboard mode sends key *positions* (Linux key codes); which character a
position means depends on the keyboard layout the scanner was set to emulate. A scanner
set to German sends KEY_Y for "z", and shift+KEY_7 for "/". So each device URL names its
layout (``?layout=de``) and :class:`KeyDecoder` turns events back into the characters the
scanner meant. Enter, keypad Enter or Tab ends a scan.

Also understood, because scanners use them for characters that have no key: Alt held
while typing a decimal code on the keypad (``Alt+0029`` is GS, the GS1 separator) and
Ctrl with a letter or ``[ \\ ] ^ _`` (``Ctrl+]`` is GS), as on a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EV_KEY = 1
UP, DOWN, REPEAT = 0, 1, 2

# Linux key codes (include/uapi/linux/input-event-codes.h); a test checks them against evdev.
KEY = {
    "KEY_1": 2, "KEY_2": 3, "KEY_3": 4, "KEY_4": 5, "KEY_5": 6, "KEY_6": 7, "KEY_7": 8,
    "KEY_8": 9, "KEY_9": 10, "KEY_0": 11, "KEY_MINUS": 12, "KEY_EQUAL": 13, "KEY_TAB": 15,
    "KEY_Q": 16, "KEY_W": 17, "KEY_E": 18, "KEY_R": 19, "KEY_T": 20, "KEY_Y": 21,
    "KEY_U": 22, "KEY_I": 23, "KEY_O": 24, "KEY_P": 25, "KEY_LEFTBRACE": 26,
    "KEY_RIGHTBRACE": 27, "KEY_ENTER": 28, "KEY_LEFTCTRL": 29, "KEY_A": 30, "KEY_S": 31,
    "KEY_D": 32, "KEY_F": 33, "KEY_G": 34, "KEY_H": 35, "KEY_J": 36, "KEY_K": 37,
    "KEY_L": 38, "KEY_SEMICOLON": 39, "KEY_APOSTROPHE": 40, "KEY_GRAVE": 41,
    "KEY_LEFTSHIFT": 42, "KEY_BACKSLASH": 43, "KEY_Z": 44, "KEY_X": 45, "KEY_C": 46,
    "KEY_V": 47, "KEY_B": 48, "KEY_N": 49, "KEY_M": 50, "KEY_COMMA": 51, "KEY_DOT": 52,
    "KEY_SLASH": 53, "KEY_RIGHTSHIFT": 54, "KEY_KPASTERISK": 55, "KEY_LEFTALT": 56,
    "KEY_SPACE": 57, "KEY_CAPSLOCK": 58, "KEY_KP7": 71, "KEY_KP8": 72, "KEY_KP9": 73,
    "KEY_KPMINUS": 74, "KEY_KP4": 75, "KEY_KP5": 76, "KEY_KP6": 77, "KEY_KPPLUS": 78,
    "KEY_KP1": 79, "KEY_KP2": 80, "KEY_KP3": 81, "KEY_KP0": 82, "KEY_KPDOT": 83,
    "KEY_102ND": 86, "KEY_KPENTER": 96, "KEY_RIGHTCTRL": 97, "KEY_KPSLASH": 98,
    "KEY_RIGHTALT": 100,
}  # fmt: skip

_K = KEY
_SHIFT = {_K["KEY_LEFTSHIFT"], _K["KEY_RIGHTSHIFT"]}
_CTRL = {_K["KEY_LEFTCTRL"], _K["KEY_RIGHTCTRL"]}
_ALT = _K["KEY_LEFTALT"]
_ALTGR = _K["KEY_RIGHTALT"]
_END = {_K["KEY_ENTER"], _K["KEY_KPENTER"], _K["KEY_TAB"]}
_KP_DIGITS = {_K[f"KEY_KP{d}"]: str(d) for d in range(10)}


def _layout(rows: dict[str, str], altgr: dict[str, str], letters: str) -> dict[int, tuple]:
    """``rows`` maps key name -> "normal shifted" (two characters); ``letters`` names the
    keys whose shifted form is also what Caps Lock gives."""
    table: dict[int, tuple[str, str, str, bool]] = {}
    for name, pair in rows.items():
        table[_K[name]] = (pair[0], pair[1], altgr.get(name, ""), name in letters)
    return table


_LETTER_KEYS = " ".join(f"KEY_{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_COMMON = (
    {f"KEY_{c}": c.lower() + c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    | {
        "KEY_SPACE": "  ",
        "KEY_KPASTERISK": "**",
        "KEY_KPMINUS": "--",
        "KEY_KPPLUS": "++",
        "KEY_KPSLASH": "//",
    }
    | {f"KEY_KP{d}": f"{d}{d}" for d in range(10)}
)

LAYOUTS: dict[str, dict[int, tuple[str, str, str, bool]]] = {
    "us": _layout(
        _COMMON
        | {
            "KEY_GRAVE": "`~",
            "KEY_1": "1!",
            "KEY_2": "2@",
            "KEY_3": "3#",
            "KEY_4": "4$",
            "KEY_5": "5%",
            "KEY_6": "6^",
            "KEY_7": "7&",
            "KEY_8": "8*",
            "KEY_9": "9(",
            "KEY_0": "0)",
            "KEY_MINUS": "-_",
            "KEY_EQUAL": "=+",
            "KEY_LEFTBRACE": "[{",
            "KEY_RIGHTBRACE": "]}",
            "KEY_BACKSLASH": "\\|",
            "KEY_SEMICOLON": ";:",
            "KEY_APOSTROPHE": "'\"",
            "KEY_COMMA": ",<",
            "KEY_DOT": ".>",
            "KEY_SLASH": "/?",
            "KEY_102ND": "\\|",
            "KEY_KPDOT": "..",
        },  # fmt: skip
        {},
        _LETTER_KEYS,
    ),
    "de": _layout(
        _COMMON
        | {
            "KEY_Y": "zZ",
            "KEY_Z": "yY",
            "KEY_GRAVE": "^°",
            "KEY_1": "1!",
            "KEY_2": '2"',
            "KEY_3": "3§",
            "KEY_4": "4$",
            "KEY_5": "5%",
            "KEY_6": "6&",
            "KEY_7": "7/",
            "KEY_8": "8(",
            "KEY_9": "9)",
            "KEY_0": "0=",
            "KEY_MINUS": "ß?",
            "KEY_EQUAL": "´`",
            "KEY_LEFTBRACE": "üÜ",
            "KEY_RIGHTBRACE": "+*",
            "KEY_BACKSLASH": "#'",
            "KEY_SEMICOLON": "öÖ",
            "KEY_APOSTROPHE": "äÄ",
            "KEY_COMMA": ",;",
            "KEY_DOT": ".:",
            "KEY_SLASH": "-_",
            "KEY_102ND": "<>",
            "KEY_KPDOT": ",,",
        },  # fmt: skip
        {
            "KEY_2": "²",
            "KEY_3": "³",
            "KEY_7": "{",
            "KEY_8": "[",
            "KEY_9": "]",
            "KEY_0": "}",
            "KEY_MINUS": "\\",
            "KEY_Q": "@",
            "KEY_E": "€",
            "KEY_RIGHTBRACE": "~",
            "KEY_102ND": "|",
            "KEY_M": "µ",
        },  # fmt: skip
        _LETTER_KEYS + " KEY_LEFTBRACE KEY_SEMICOLON KEY_APOSTROPHE",
    ),
}


@dataclass
class KeyDecoder:
    """Feed key events one by one; :meth:`feed` returns the text of a scan when it ends."""

    layout: str = "us"
    _keys: dict[int, tuple[str, str, str, bool]] = field(init=False, repr=False)
    _text: list[str] = field(default_factory=list, init=False)
    _held: set[int] = field(default_factory=set, init=False)
    _caps: bool = field(default=False, init=False)
    _alt_code: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(
                f"unknown keyboard layout {self.layout!r} (known: {', '.join(LAYOUTS)})"
            )
        self._keys = LAYOUTS[self.layout]

    @property
    def pending(self) -> str:
        """Characters typed since the last scan ended."""
        return "".join(self._text)

    def clear(self) -> None:
        """Drop a partial scan (keys left without Enter for too long)."""
        self._text.clear()
        self._alt_code = ""

    def feed(self, type_: int, code: int, value: int) -> str | None:
        """One event (``InputEvent.type, .code, .value``); the scan's text on Enter/Tab.

        Non-key events (EV_SYN, EV_MSC scan codes) and auto-repeats are ignored; an Enter
        with nothing typed before it gives None, not an empty scan.
        """
        if type_ != EV_KEY or value == REPEAT:
            return None
        if value == UP:
            self._held.discard(code)
            if code == _ALT and self._alt_code:
                self._text.append(chr(int(self._alt_code) % 256))
                self._alt_code = ""
            return None
        if value != DOWN:
            return None
        self._held.add(code)
        if code in _END:
            scan, self._text = "".join(self._text), []
            return scan or None
        if code == KEY["KEY_CAPSLOCK"]:
            self._caps = not self._caps
            return None
        if _ALT in self._held and code in _KP_DIGITS:
            self._alt_code += _KP_DIGITS[code]
            return None
        char = self._char(code)
        if char:
            self._text.append(char)
        return None

    def _char(self, code: int) -> str:
        entry = self._keys.get(code)
        if entry is None:
            return ""
        normal, shifted, altgr, is_letter = entry
        if _ALTGR in self._held:
            return altgr
        upper = bool(self._held & _SHIFT) != (self._caps and is_letter)
        char = shifted if upper else normal
        if self._held & _CTRL:
            # Terminal convention: Ctrl+letter and Ctrl+[ \ ] ^ _ give control characters.
            base = char.upper()
            return chr(ord(base) - 64) if "@" <= base <= "_" and len(base) == 1 else ""
        return char


def decode(events: list[tuple[int, int, int]], layout: str = "us") -> list[str]:
    """All complete scans in a list of ``(type, code, value)`` events."""
    decoder = KeyDecoder(layout)
    return [s for t, c, v in events if (s := decoder.feed(t, c, v))]
