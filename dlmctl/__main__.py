"""``python -m dlmctl`` (and ``torchrun -m dlmctl train …``)."""

from dlmctl.cli import main

main()
