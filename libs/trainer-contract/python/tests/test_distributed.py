"""World outside torchrun: one process, and every collective is the identity (no torch needed)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from trainer_bridge import World  # noqa: E402


def test_outside_torchrun_it_is_one_process_and_collectives_are_the_identity():
    world = World({})
    assert (world.size, world.rank, world.local_rank, world.distributed) == (1, 0, 0, False)
    assert world.start("cpu") is world and world.backend is None
    assert world.sum([1, 2.5]) == [1.0, 2.5]
    assert world.any(True) is True and world.any(0) is False
    world.barrier()
    world.stop()


def test_torchrun_env_is_read():
    world = World({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (world.size, world.rank, world.local_rank, world.distributed) == (4, 3, 1, True)
