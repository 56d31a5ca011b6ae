"""torch.distributed for a bridge the trainer started under torchrun (CONTRACT section 8: more than one process asked
for). For frameworks that do not set up DDP themselves (timm's loop here; Ultralytics and transformers.Trainer do).

torchrun gives every worker RANK, LOCAL_RANK and WORLD_SIZE; outside it these read as one process and every call
here is free.
"""

import os


class World:
    """This process's place in the run: `rank` 0 of 1 when not distributed."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.size = int(env.get("WORLD_SIZE") or 1)
        self.rank = int(env.get("RANK") or 0)
        self.local_rank = int(env.get("LOCAL_RANK") or 0)
        self.backend = None

    @property
    def distributed(self):
        return self.size > 1

    def start(self, device_type):
        """Joins the process group (NCCL on CUDA, gloo on the CPU); on CUDA, pins this rank to its GPU first."""
        if not self.distributed:
            return self
        import torch
        import torch.distributed as dist

        if device_type == "cuda":
            torch.cuda.set_device(self.local_rank)
        self.backend = "nccl" if device_type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=self.backend)
        return self

    def _tensor(self, values):
        import torch

        device = torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")
        return torch.tensor(values, dtype=torch.float64, device=device)

    def sum(self, values):
        """The element-wise sum of `values` (a list of numbers) over all ranks, as floats."""
        if not self.distributed:
            return [float(v) for v in values]
        import torch.distributed as dist

        t = self._tensor(values)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag):
        """True on every rank when it is true on one: a stop agreed at the same step everywhere, so no rank is left
        waiting in a collective the others never reach."""
        if not self.distributed:
            return bool(flag)
        import torch.distributed as dist

        t = self._tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.item() > 0

    def barrier(self):
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def stop(self):
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
