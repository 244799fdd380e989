"""Adam on one flat buffer: torch.optim.Adam's arithmetic, without its start-up cost.

Every ``torch.optim`` optimizer imports ``torch._dynamo`` when it is built (about 1.3 s per
process, measured with ``python -X importtime``), a large share of a demo run of a few seconds.
:class:`FlatAdam` performs exactly the element-wise steps of ``torch.optim.Adam`` (default
single-tensor implementation, L2 weight decay, no amsgrad) on all parameters at once:

    g = grad + weight_decay * w
    m = lerp(m, g, 1 - beta1)                  # m <- beta1 m + (1 - beta1) g
    v = beta2 v + (1 - beta2) g * g
    w = w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

Element-wise maths does not depend on how tensors are laid out, so the result is bit-for-bit
that of ``torch.optim.Adam`` (tested), and one pass over a flat buffer replaces a Python loop
over every parameter tensor.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["FlatAdam"]


class FlatAdam:
    """Adam over ``params`` (all on one device, one floating dtype); moments kept flat.

    ``zero_grad``, ``step``, ``state_dict`` and ``load_state_dict`` behave as in
    ``torch.optim``; parameters whose ``grad`` is None are treated as having a zero gradient
    only if every parameter lacks one (then ``step`` does nothing), otherwise it is an error.
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
            raise ValueError("FlatAdam got no trainable parameters")
        if not (lr > 0 and 0 <= betas[0] < 1 and 0 <= betas[1] < 1 and eps > 0):
            raise ValueError(
                f"FlatAdam needs lr > 0, betas in [0, 1), eps > 0; got {lr, betas, eps}"
            )
        if weight_decay < 0:
            raise ValueError(f"FlatAdam weight_decay must be >= 0, got {weight_decay}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        numel = sum(p.numel() for p in self.params)
        first = self.params[0]
        self.exp_avg = torch.zeros(numel, dtype=first.dtype, device=first.device)
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)
        self.steps = 0
        self._sizes = [p.numel() for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None  # set_to_none is the only mode (as torch's default)

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if all(g is None for g in grads):
            return
        if any(g is None for g in grads):
            raise ValueError("FlatAdam.step: some parameters have no gradient; all or none must")
        b1, b2 = self.betas
        self.steps += 1
        w = torch.cat([p.reshape(-1) for p in self.params])
        g = torch.cat([gr.reshape(-1) for gr in grads])
        if self.weight_decay != 0:
            g = g.add(w, alpha=self.weight_decay)
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        step_size = self.lr / (1 - b1**self.steps)
        # ** 0.5, not math.sqrt: the same rounding as torch.optim.Adam
        denom = (self.exp_avg_sq.sqrt() / (1 - b2**self.steps) ** 0.5).add_(self.eps)
        w.addcdiv_(self.exp_avg, denom, value=-step_size)
        torch._foreach_copy_(
            self.params,
            [v.view_as(p) for v, p in zip(w.split(self._sizes), self.params, strict=True)],
        )

    def state_dict(self) -> dict:
        return {
            "step": self.steps,
            "exp_avg": self.exp_avg.clone(),
            "exp_avg_sq": self.exp_avg_sq.clone(),
            "hyper": {
                "lr": self.lr,
                "betas": list(self.betas),
                "eps": self.eps,
                "weight_decay": self.weight_decay,
            },
        }

    def load_state_dict(self, state: dict) -> None:
        if state["exp_avg"].shape != self.exp_avg.shape:
            raise ValueError(
                f"optimizer state has {state['exp_avg'].numel()} moments but the model has "
                f"{self.exp_avg.numel()} parameters; the checkpoint belongs to another model"
            )
        self.steps = int(state["step"])
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
