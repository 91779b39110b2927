"""``python -m harness.bench [evals.bench options] [--record-oracle DIR | --replay DIR]``."""

import sys

from evals.bench import main
from harness.bench.replay import replay_mode

if __name__ == "__main__":
    sys.exit(main(replay_mode=replay_mode))
