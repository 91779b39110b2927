"""A shard of the collected tests for loopwright's pytest plugin (:mod:`loopwright_pytest`).

Standard library only. ``LOOPWRIGHT_SHARD`` (``[k, n]``) keeps, after collection, the tests
of the files assigned to shard ``k`` of ``n`` (see ``harness/evaluators/shards.py``). Every
process of a sharded run collects the same suite and computes the same assignment: files are
taken largest first (size in bytes, then path) onto the shard with the fewest bytes so far, so
each file lands in exactly one shard whatever its tests' names or count in that process.
"""

import os


def file_of(nodeid):
    """The test file of a pytest node id (``tests/test_x.py::T::test_y`` -> ``tests/test_x.py``)."""
    return nodeid.split("::", 1)[0]


def assign(files, n, size):
    """``{file: shard}`` for ``files`` (paths) over ``n`` shards; ``size(file)`` -> bytes."""
    load, owner = [0] * n, {}
    for f in sorted(files, key=lambda f: (-size(f), f)):
        i = load.index(min(load))
        owner[f] = i
        load[i] += max(1, size(f))
    return owner


def keep(items, k, n, root):
    """The items of shard ``k`` of ``n``, in their order, and the files of all ``items`` in
    collection order. ``root``: the directory node ids are relative to."""
    files = list(dict.fromkeys(file_of(it.nodeid) for it in items))

    def size(f):
        try:
            return os.stat(os.path.join(root, f)).st_size
        except OSError:
            return 0

    owner = assign(files, n, size)
    return [it for it in items if owner[file_of(it.nodeid)] == k], files
