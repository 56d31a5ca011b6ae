"""CPU thread count, the one torch setting every trainer takes from the environment."""

import os


def use_cpu_threads():
    """TRAINER_CPU_THREADS=N: torch's intra-op threads for CPU training (frameworks that leave a core to dataloader
    workers train slower with workers=0). Call it after the framework has picked its device, which may reset it."""
    n = int(os.environ.get("TRAINER_CPU_THREADS") or 0)
    if n > 0:
        import torch

        torch.set_num_threads(n)
