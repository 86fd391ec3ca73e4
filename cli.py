"""Run from a checkout: `python cli.py ...`. The installed command is `scaling`."""

from scaling.cli import main

if __name__ == "__main__":
    main()
