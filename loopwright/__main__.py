"""``python -m loopwright ARGS`` runs ``loopwright ARGS``."""

from loopwright.cli import main

if __name__ == "__main__":
    main()
