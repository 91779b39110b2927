"""``python -m harness.cli``: the loopwright command line."""

from harness.cli import main

if __name__ == "__main__":
    main()
