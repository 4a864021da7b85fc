"""Typed fault controls for ``doms emulate ...``: a line such as ``paper-out`` or ``slow 2``
becomes a call on the running emulator, so a person testing a real program against it can
break the device on purpose and watch what the program does.

Every control is a word, an optional argument and the emulator method it calls; controls
whose method an emulator lacks are not offered (``help`` lists only what works). ``ok``
undoes every fault. The console knows nothing of stdin: the CLI feeds it lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_ON = {"", "on", "1", "yes"}
_OFF = {"off", "0", "no"}


@dataclass(frozen=True)
class Control:
    """``word [argument]``: ``run(emulator, argument)`` returns what happened in words
    (raises ValueError for an argument it cannot use); ``off(emulator)`` undoes it for
    ``ok``. ``needs`` names the emulator method it calls, so unsupported ones are hidden.
    """

    word: str
    usage: str
    help: str
    needs: str
    run: Callable[[Any, str], str]
    off: Callable[[Any], None] | None = None
    aliases: tuple[str, ...] = ()


def _switch(word: str, method: str, text: str, aliases: tuple[str, ...] = ()) -> Control:
    def run(emu: Any, arg: str) -> str:
        on = _on_off(arg)
        getattr(emu, method)(on)
        return f"{word}: {'on' if on else 'off'}"

    return Control(
        word, f"{word} [off]", text, method, run, lambda emu: getattr(emu, method)(False), aliases
    )


def _on_off(arg: str) -> bool:
    if arg.lower() in _ON:
        return True
    if arg.lower() in _OFF:
        return False
    raise ValueError(f"expected nothing, 'on' or 'off', not {arg!r}")


def _slow(emu: Any, arg: str) -> str:
    try:
        seconds = 0.0 if arg.lower() in _OFF else float(arg or "1")
    except ValueError:
        raise ValueError(f"give seconds, not {arg!r}") from None
    if seconds < 0:
        raise ValueError("seconds cannot be negative")
    emu.slow(seconds)
    return f"slow: answers {seconds:g} s late" if seconds else "slow: off"


def _offline(emu: Any, arg: str) -> str:
    if not _on_off(arg):
        emu.come_back()
        return "online: accepting connections again"
    emu.go_offline()
    return "offline: connections refused (type 'online' or 'ok' to come back)"


def _online(emu: Any, arg: str) -> str:
    emu.come_back()
    return "online: accepting connections again"


def _silent(emu: Any, arg: str) -> str:
    on = _on_off(arg)
    emu.silent_while_head_open(on)
    if on:
        emu.head_open(True)  # silence needs an open head: open it, or nothing would change
        return "silent: head open and no status answers ('ok' closes the head)"
    return "silent: off (head left as it is)"


def _drop(emu: Any, arg: str) -> str:
    on = _on_off(arg)
    emu.disconnect_mid_job(on)
    return "drop: the next job's connection is reset after its first bytes" if on else "drop: off"


def _drop_status(emu: Any, arg: str) -> str:
    on = _on_off(arg)
    emu.disconnect_on_status(on)
    if on:
        return "drop-status: the next status query is answered by a connection reset"
    return "drop-status: off"


def _hang(emu: Any, arg: str) -> str:
    if _on_off(arg):
        emu.stop_answering()
        return "hang: connected but not answering ('ok' to answer again)"
    emu.start_answering()
    return "hang: off"


def _no_status(emu: Any, arg: str) -> str:
    on = _on_off(arg)
    emu.no_status(on, on)
    return f"silent: {'no status answers' if on else 'off'}"


def _noise(emu: Any, arg: str) -> str:
    on = _on_off(arg)
    if on:
        emu.noise()  # each emulator's own default junk
    else:
        emu.noise(None)
    return f"noise: {'on' if on else 'off'}"


def _nci_fault(emu: Any, arg: str) -> str:
    name, _, state = arg.partition(" ")
    if not name:
        raise ValueError("name the fault: ram, eeprom, rom, calibration or initial_zero")
    on = _on_off(state.strip())
    emu.fault(name, on)
    return f"fault {name}: {'on' if on else 'off'}"


def _clear_nci_faults(emu: Any) -> None:
    for name in ("ram", "eeprom", "rom", "calibration", "initial_zero"):
        emu.fault(name, False)


# What both TCP printer emulators offer alike (drivers.emulators.tcp_faults).
_WIRE: tuple[Control, ...] = (
    Control(
        "slow",
        "slow SECONDS",
        "answer status queries late (slow 0: at once)",
        "slow",
        _slow,
        lambda emu: emu.slow(0.0),
    ),
    Control(
        "noise",
        "noise [off]",
        "send junk bytes before every status answer",
        "noise",
        _noise,
        lambda emu: emu.noise(None),
    ),
    Control(
        "drop",
        "drop [off]",
        "reset the next job's connection mid-job",
        "disconnect_mid_job",
        _drop,
        lambda emu: emu.disconnect_mid_job(False),
    ),
    Control(
        "drop-status",
        "drop-status [off]",
        "reset the connection instead of the next status answer",
        "disconnect_on_status",
        _drop_status,
        lambda emu: emu.disconnect_on_status(False),
    ),
)

LABEL_PRINTER: tuple[Control, ...] = (
    _switch("paper-out", "paper_out", "out of labels (jobs are held until cleared)"),
    _switch("head-open", "head_open", "print head open"),
    _switch("ribbon-out", "ribbon_out", "out of ribbon"),
    _switch("pause", "pause", "paused (the pause button)"),
    _switch("cutter", "cutter_fault", "cutter fault (~HS reads paused, ~HQES names it)"),
    _switch("hot", "head_too_hot", "print head over temperature"),
    _switch("motor-hot", "motor_too_hot", "motor over temperature (~HS reads paused)"),
    _switch("near-end", "paper_near_end", "labels nearly out: a warning, still prints"),
    Control(
        "silent",
        "silent [off]",
        "open the head and answer no status query while it is open",
        "silent_while_head_open",
        _silent,
        lambda emu: emu.silent_while_head_open(False),
    ),
    *_WIRE,
    Control(
        "offline", "offline [off]", "the network is gone: connections refused", "go_offline",
        _offline, lambda emu: emu.come_back(), aliases=("unplug",),
    ),
    Control("online", "online", "accept connections again", "come_back", _online),
)  # fmt: skip

SLIP_PRINTER: tuple[Control, ...] = (
    _switch("paper-out", "paper_out", "out of paper (slips are held until cleared)"),
    _switch("near-end", "paper_low", "paper nearly out: a warning, still prints"),
    _switch("cover-open", "cover_open", "cover open (the printer goes offline)"),
    _switch("offline", "offline", "the printer reports itself offline with an error"),
    Control(
        "silent",
        "silent [off]",
        "answer no status query (DLE EOT, GS r), like a printer without status",
        "no_status",
        _no_status,
        lambda emu: emu.no_status(False, False),
    ),
    *_WIRE,
    Control(
        "unplug", "unplug [off]", "the network is gone: connections refused", "go_offline",
        _offline, lambda emu: emu.come_back(),
    ),
    Control("online", "online", "accept connections again", "come_back", _online),
)  # fmt: skip


def _cable(emu: Any, arg: str) -> str:
    if not _on_off(arg):
        emu.come_back()
        return "plugged in: reading and answering again"
    emu.go_offline()
    return "unplugged: what is sent is lost, nothing answers (type 'plug' or 'ok')"


def _plug(emu: Any, arg: str) -> str:
    emu.come_back()
    return "plugged in: reading and answering again"


# The serial slip printer: no connection to reset (drop, drop-status are not offered:
# it has no such methods), and unplugging pulls a cable rather than a network.
SERIAL_SLIP_PRINTER: tuple[Control, ...] = (
    *(c for c in SLIP_PRINTER if c.word not in ("unplug", "online")),
    Control(
        "unplug", "unplug [off]", "pull the cable: nothing is read or answered", "go_offline",
        _cable, lambda emu: emu.come_back(),
    ),
    Control("plug", "plug", "plug the cable back in", "come_back", _plug, aliases=("online",)),
)  # fmt: skip

SCALE: tuple[Control, ...] = (
    _switch("motion", "motion", "the weight keeps moving (never stable)"),
    _switch("overload", "overload", "over capacity", aliases=("o",)),
    _switch("under", "underload", "below zero (pan lifted off)"),
    Control(
        "noise", "noise [off]", "send junk bytes before every answer", "noise",
        _noise,
        lambda emu: emu.noise(None),
    ),
    _switch("split", "split_frames", "write every answer in three pieces"),
    Control(
        "slow", "slow SECONDS", "answer every command late (slow 0: at once)", "slow", _slow,
        lambda emu: emu.slow(0.0),
    ),
    Control(
        "hang", "hang [off]", "stay connected but answer nothing", "stop_answering", _hang,
        lambda emu: emu.start_answering(),
    ),
    _switch("nak", "not_ready", "CAS: answer ENQ with NAK (not ready)"),
    _switch("bad-bcc", "bad_checksum", "CAS: send frames with a wrong checksum"),
    Control(
        "fault", "fault NAME [off]", "NCI: ram, eeprom, rom, calibration or initial_zero error",
        "fault", _nci_fault, _clear_nci_faults,
    ),
)  # fmt: skip


class Console:
    """Runs typed lines against ``emulator`` with the ``controls`` it supports.

    ``fallback(line)`` handles anything else (a scale's "type grams") and returns what
    happened, or None if it did not understand the line either.
    """

    def __init__(
        self,
        emulator: Any,
        controls: Sequence[Control],
        fallback: Callable[[str], str | None] | None = None,
        fallback_help: str = "",
    ) -> None:
        self.emulator = emulator
        self.controls = [c for c in controls if callable(getattr(emulator, c.needs, None))]
        self.fallback = fallback
        self.fallback_help = fallback_help

    def help(self) -> str:
        """One line per command this emulator supports."""
        lines = [f"  {c.usage:<18} {c.help}" for c in self.controls]
        if self.fallback_help:
            lines.append(self.fallback_help)
        lines += [f"  {'ok':<18} clear every fault (also: reset)", f"  {'help':<18} this list"]
        return "commands:\n" + "\n".join(lines)

    def handle(self, line: str) -> tuple[bool, str]:
        """``(understood, what happened)`` for one typed line. Never raises."""
        word, _, arg = line.strip().partition(" ")
        word, arg = word.lower(), arg.strip()
        if word in ("help", "?", "h"):
            return True, self.help()
        if word in ("ok", "reset", "clear"):
            for control in self.controls:
                if control.off is not None:
                    control.off(self.emulator)
            return True, "ok: every fault cleared"
        control = next((c for c in self.controls if word in (c.word, *c.aliases)), None)
        try:
            if control is not None:
                return True, control.run(self.emulator, arg)
            if self.fallback is not None and (done := self.fallback(line.strip())) is not None:
                return True, done
        except (ValueError, TimeoutError) as exc:
            return False, f"{word}: {exc} (usage: {control.usage if control else word})"
        return False, f"unknown command {line.strip()!r}: type 'help' for the list"
