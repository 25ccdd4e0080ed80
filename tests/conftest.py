"""Test-session settings: one torch thread (the machines have 2 cores, shared)."""

import torch

torch.set_num_threads(1)
