"""One-cycle learning-rate schedule with inverse beta1 cycling (Smith 2018; super-convergence)."""

from __future__ import annotations

from typing import Any

from torch.optim import Optimizer

__all__ = ["OneCycleSchedule"]


class OneCycleSchedule:
    """Learning rate up while Adam's beta1 goes down, then both back.

    Over ``total_steps`` optimizer steps: during the first ``pct_start`` of them the learning rate
    rises linearly from ``max_lr / div_factor`` to ``max_lr`` while beta1 falls linearly from
    ``beta1_max`` to ``beta1_min``; afterwards the learning rate falls linearly to ``max_lr /
    final_div_factor`` while beta1 rises back to ``beta1_max``. beta2 is left as the optimizer has
    it (0.99 in the siamese DenseNet reference).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        An optimizer whose parameter groups have ``lr`` and ``betas`` (Adam, AdamW).
    max_lr : float
        Peak learning rate.
    total_steps : int
        Number of calls to :meth:`step` the schedule spans; later steps keep the final values.
    pct_start : float, default 0.3
        Fraction of the steps spent rising, in ``(0, 1)``.
    div_factor : float, default 25.0
        Initial learning rate is ``max_lr / div_factor``.
    final_div_factor : float, default 1e3
        Final learning rate is ``max_lr / final_div_factor``.
    beta1_max, beta1_min : float, default 0.95, 0.85

    Notes
    -----
    The values of step 0 are written into the optimizer on construction; :meth:`step` (called after
    each ``optimizer.step()``) advances one step and writes the next values.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float,
        total_steps: int,
        *,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e3,
        beta1_max: float = 0.95,
        beta1_min: float = 0.85,
    ) -> None:
        if not max_lr > 0:
            raise ValueError(f"max_lr must be > 0, got {max_lr}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"pct_start must be in (0, 1), got {pct_start}")
        if not div_factor >= 1 or not final_div_factor >= 1:
            raise ValueError(
                f"div_factor and final_div_factor must be >= 1, got {div_factor}, "
                f"{final_div_factor}"
            )
        if not 0.0 <= beta1_min <= beta1_max < 1.0:
            raise ValueError(f"need 0 <= beta1_min <= beta1_max < 1, got {beta1_min}, {beta1_max}")
        for group in optimizer.param_groups:
            if "betas" not in group:
                raise ValueError("the optimizer has no 'betas' (use Adam or AdamW)")
        self.optimizer = optimizer
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.initial_lr = self.max_lr / div_factor
        self.final_lr = self.max_lr / final_div_factor
        self.beta1_max = float(beta1_max)
        self.beta1_min = float(beta1_min)
        self.step_count = 0
        self._apply()

    @property
    def peak_step(self) -> int:
        """The step at which the learning rate peaks and beta1 bottoms out."""
        return max(1, round(self.pct_start * self.total_steps))

    def values(self, step: int) -> tuple[float, float]:
        """``(learning_rate, beta1)`` at a given step (clamped to ``[0, total_steps]``)."""
        step = min(max(step, 0), self.total_steps)
        peak = self.peak_step
        if step <= peak:
            t = step / peak
            return (
                self.initial_lr + t * (self.max_lr - self.initial_lr),
                self.beta1_max + t * (self.beta1_min - self.beta1_max),
            )
        t = (step - peak) / max(1, self.total_steps - peak)
        return (
            self.max_lr + t * (self.final_lr - self.max_lr),
            self.beta1_min + t * (self.beta1_max - self.beta1_min),
        )

    def _apply(self) -> None:
        lr, beta1 = self.values(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            group["betas"] = (beta1, group["betas"][1])

    def step(self) -> None:
        """Advance one optimizer step and write the new ``lr`` and ``beta1`` into the optimizer."""
        self.step_count += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: the step counter and the settings."""
        return {
            "step_count": self.step_count,
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "initial_lr": self.initial_lr,
            "final_lr": self.final_lr,
            "beta1_max": self.beta1_max,
            "beta1_min": self.beta1_min,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` and write its current values into the optimizer."""
        self.step_count = int(state["step_count"])
        self.max_lr = float(state["max_lr"])
        self.total_steps = int(state["total_steps"])
        self.pct_start = float(state["pct_start"])
        self.initial_lr = float(state["initial_lr"])
        self.final_lr = float(state["final_lr"])
        self.beta1_max = float(state["beta1_max"])
        self.beta1_min = float(state["beta1_min"])
        self._apply()
