"""Where loopwright acts safely: patches, git worktrees, and the process runner.

This room imports only the standard library, GitPython and unidiff.
"""
