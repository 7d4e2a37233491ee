"""``python -m stochlstm``: the ``stochlstm`` command."""

from .cli import main

main()
