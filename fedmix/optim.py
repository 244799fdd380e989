"""Adam for the training loop: torch's fused Adam kernel, without ``torch.optim``'s start-up.

A step is one call of ``torch._fused_adam_``, the kernel behind ``torch.optim.Adam(fused=True)``:
one vectorised pass per parameter on the CPU, a few multi-tensor launches on CUDA, reading the
weight, gradient and both moments once and writing weight and moments once. Its arithmetic is
``torch.optim.Adam(fused=True)``'s bit for bit (tested), with L2 weight decay and no amsgrad::

    g = grad + weight_decay * w
    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g * g
    w = w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

Why not ``torch.optim.Adam`` itself: building any ``torch.optim`` optimizer imports
``torch._dynamo`` (about 1.3 s per process on an idle machine), a large share of a demo run.
Why the fused kernel and not a flat buffer: measured at the paper's width (17.3 M parameters,
docs/performance.md), the fused step is about 5x faster than the element-wise ops of the
for-loop implementation, and a flat buffer of persistent gradient views would add a zeroing
and an in-place accumulation of the whole gradient to every step (as costly as the fused step
itself), while the kernel already runs over all parameters at once.

The fused kernel rounds differently from the for-loop implementation (``foreach=False``,
torch's CPU default, which :mod:`fedmix.naive` uses): a weight can differ in its last bit
after a step (measured at most 6e-8 after 12 steps at width 64).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["FusedAdam"]


class FusedAdam:
    """Adam over ``params`` (one device, one floating dtype), one fused kernel call per step.

    ``zero_grad``, ``step``, ``state_dict`` and ``load_state_dict`` behave as in ``torch.optim``
    (gradients are set to None). ``step`` does nothing if no parameter has a gradient and
    refuses a mix. The saved state is the step count and both moments flattened in parameter
    order, independent of memory layout (a run saved on a GPU with channels-last weights
    resumes on the CPU).
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("FusedAdam got no trainable parameters")
        if not (lr > 0 and 0 <= betas[0] < 1 and 0 <= betas[1] < 1 and eps > 0):
            raise ValueError(
                f"FusedAdam needs lr > 0, betas in [0, 1), eps > 0; got {lr, betas, eps}"
            )
        if weight_decay < 0:
            raise ValueError(f"FusedAdam weight_decay must be >= 0, got {weight_decay}")
        first = self.params[0]
        kinds = {(p.device, p.dtype) for p in self.params}
        if len(kinds) > 1 or not first.is_floating_point():
            raise ValueError(f"FusedAdam needs one device and one floating dtype, got {kinds}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        # Moments in each parameter's own memory layout: the kernel needs equal strides.
        self.exp_avgs = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]
        self.exp_avg_sqs = [torch.zeros_like(m) for m in self.exp_avgs]
        self.steps = 0
        # The kernel reads the step count from a tensor on the parameters' device (no sync).
        self._step_count = torch.zeros((), dtype=torch.float32, device=first.device)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None  # set_to_none is the only mode (as torch's default)

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if all(g is None for g in grads):
            return
        if any(g is None for g in grads):
            raise ValueError("FusedAdam.step: some parameters have no gradient; all or none must")
        self.steps += 1
        self._step_count += 1
        b1, b2 = self.betas
        torch._fused_adam_(
            self.params, grads, self.exp_avgs, self.exp_avg_sqs, [],
            [self._step_count] * len(self.params),
            lr=self.lr, beta1=b1, beta2=b2, weight_decay=self.weight_decay, eps=self.eps,
            amsgrad=False, maximize=False,
        )  # fmt: skip

    def state_dict(self) -> dict:
        return {
            "step": self.steps,
            "exp_avg": torch.cat([m.reshape(-1) for m in self.exp_avgs]),
            "exp_avg_sq": torch.cat([v.reshape(-1) for v in self.exp_avg_sqs]),
            "hyper": {
                "lr": self.lr,
                "betas": list(self.betas),
                "eps": self.eps,
                "weight_decay": self.weight_decay,
            },
        }

    def load_state_dict(self, state: dict) -> None:
        numel = sum(p.numel() for p in self.params)
        if state["exp_avg"].shape != (numel,) or state["exp_avg_sq"].shape != (numel,):
            raise ValueError(
                f"optimizer state has {state['exp_avg'].numel()} moments but the model has "
                f"{numel} parameters; the checkpoint belongs to another model"
            )
        sizes = [p.numel() for p in self.params]
        for mine, key in ((self.exp_avgs, "exp_avg"), (self.exp_avg_sqs, "exp_avg_sq")):
            saved = state[key].to(device=mine[0].device, dtype=mine[0].dtype).split(sizes)
            for m, s in zip(mine, saved, strict=True):
                m.copy_(s.view(m.shape))  # copy_ writes logical order into any layout
        self.steps = int(state["step"])
        self._step_count.fill_(self.steps)
