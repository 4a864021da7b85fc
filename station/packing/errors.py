"""Refusals at the station: each one's message is what the packer reads on screen."""


class Refused(Exception):
    """The action was not done; ``str()`` says why in plain words and what to do."""

    def __init__(self, message: str, *, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind  # wrong_item | over_scan | unknown | bad_barcode | ...
