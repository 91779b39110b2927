"""``python -m loopwright ARGS`` runs ``loopwright ARGS``."""

from harness.cli import main

if __name__ == "__main__":
    main()
