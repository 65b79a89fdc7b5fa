"""``python -m strew``: the ``strew`` command, for where the console script is not on PATH."""

from strew.cli import main

if __name__ == "__main__":
    main()
