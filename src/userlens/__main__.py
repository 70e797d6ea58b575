"""Allow `python -m userlens`."""

from userlens.cli import main

main()
