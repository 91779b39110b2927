"""The work sources: failing tests (fix), instructions (do), review comments (review, ci)."""
