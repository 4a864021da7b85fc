"""What the station prints: the carrier label (``shipping``), the packing slip (``slip``)
and the command barcode sheet (``command_sheet``), on top of ZPL helpers in ``zpl``."""
