"""torchrun / DDP plumbing: join and leave the process group, barriers, agreeing on a stop."""

from __future__ import annotations

import gc
import os

import torch
import torch.distributed as dist


def init_distributed() -> bool:
    """Join the process group torchrun describes in the environment; True if this call created it."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return True


def close_distributed(created: bool) -> None:
    """Destroy the process group `init_distributed` created, after a successful run only.

    Only on success, as torchtitan does: tearing a group down while another rank is still in a
    collective, or under a live DDP reducer, can hang (pytorch/pytorch#75097).
    """
    if created:
        gc.collect()  # a reference cycle could still hold a DDP module
        dist.destroy_process_group()



def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def stop_requested(local: bool, device: torch.device, world_size: int) -> bool:
    """Agree across ranks, so every rank stops at the same step (torchrun signals each worker)."""
    if world_size <= 1:
        return local
    flag = torch.tensor([1.0 if local else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def world() -> tuple[int, int]:
    """(rank, world size) of the initialised process group, or (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
