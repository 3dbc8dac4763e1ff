"""Recurrent latent blocks (Lee et al. 2022, Eq. 4-5): audio-driven latent trajectories in W+.

The ws are split into coarse / mid / fine groups (paper, 16 ws: [0, 3), [3, 6), [6, 16)). Each group
has its own block: a GRU cell written from nn.Linear ops (TensorRT has no GRU converter) whose input
is the group's slice of E_a(x) + w_hat (flattened, projected down), and whose output is a residual
update of the group's latents, initialised small so an untrained block barely moves them.
With linear_path, each block also adds a linear map of that same input, per layer, to its update
(starts at zero). The pull a sound needs, "towards the latent of what it sounds like", is linear in
w_hat (rate * (target - w_hat)); through the GRU's projection and tanh it is slow to learn and
approximate, through this path it is one matrix (shared by the group's layers: w_dim^2 weights).

Indexing (one set of weights, two entry points):
    ws[-1] := ws0, hidden[-1] := init_hidden(B)
    ws[t], hidden[t] = step(ws[t-1], hidden[t-1], offsets[:, t])       t = 0 .. T-1
    forward(ws0, offsets)[:, t] == ws[t]
so ws[t] depends on offsets[:, :t+1] only (causal). `offsets[:, t]` is E_a of the audio window that
ends at keyframe t. In the paper's notation, the block that produces frame t reads
E_a(x^(t-1)) + w_hat^(t-1); here `ws[t-1]` is w_hat^(t-1) and the window ending at keyframe t plays
the role of x^(t-1): the newest audio the live path has when it computes the latents it shows next,
so no extra keyframe of latency is added. Live use: hidden = init_hidden(1), ws = ws0 (the anchor),
then each keyframe `ws, hidden = step(ws, hidden, offset_from_latest_window)`.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig


def default_groups(num_ws: int) -> tuple[tuple[int, int], ...]:
    """Coarse / mid / fine split of `num_ws` ws, proportional to the paper's 3 / 3 / 10 of 16."""
    if num_ws < 1:
        raise LivevisError(f"num_ws must be positive, got {num_ws}")
    if num_ws < 3:
        return tuple((i, i + 1) for i in range(num_ws))
    b1 = min(max(1, round(num_ws * 3 / 16)), num_ws - 2)
    b2 = min(max(b1 + 1, round(num_ws * 6 / 16)), num_ws - 1)
    return ((0, b1), (b1, b2), (b2, num_ws))


def validate_groups(groups, num_ws: int) -> tuple[tuple[int, int], ...]:
    """Groups must be [start, end) pairs covering 0..num_ws contiguously, each non-empty."""
    try:
        out = tuple((int(a), int(b)) for a, b in groups)
    except (TypeError, ValueError):
        raise LivevisError(f"recurrent groups must be [start, end] pairs, got {groups!r}") from None
    expected_start = 0
    for start, end in out:
        if start != expected_start or end <= start:
            raise LivevisError(f"recurrent groups {[list(g) for g in out]} must cover 0..{num_ws} "
                               "contiguously with non-empty [start, end) ranges")
        expected_start = end
    if expected_start != num_ws or not out:
        raise LivevisError(f"recurrent groups {[list(g) for g in out]} must end at num_ws={num_ws}")
    return out


@dataclasses.dataclass
class RecurrentConfig(StrictConfig):
    num_ws: int = 14                    # ws of the generator
    w_dim: int = 512                    # width of each w
    groups: tuple[tuple[int, int], ...] | None = None  # [start, end) per block; None -> default_groups(num_ws)
    input_dim: int = 128                # flattened group latents are projected to this size (0: no projection)
    hidden_dim: int = 128               # GRU state size per block
    update_scale: float = 0.1           # multiplier on each block's residual update
    update_init_scale: float = 0.01     # initial std of the update head, relative to He init
    linear_path: bool = False           # add Linear(w_dim, w_dim)(E_a(x) + w_hat) per layer to the update

    def __post_init__(self) -> None:
        if self.num_ws < 1 or self.w_dim < 1 or self.hidden_dim < 1 or self.input_dim < 0:
            raise LivevisError("RecurrentConfig: num_ws, w_dim, hidden_dim must be positive, input_dim >= 0")
        # Resolve the default so saved configs spell out the split they were trained with.
        self.groups = validate_groups(default_groups(self.num_ws) if self.groups is None else self.groups, self.num_ws)


class LinearGRUCell(nn.Module):
    """A GRU cell from two Linear layers (same equations as torch.nn.GRUCell, gate order r, z, n)."""

    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.x_gates = nn.Linear(input_dim, 3 * hidden_dim)
        self.h_gates = nn.Linear(hidden_dim, 3 * hidden_dim)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        H = self.hidden_dim
        gx = self.x_gates(x)  # [B, 3H]
        gh = self.h_gates(h)  # [B, 3H]
        r = torch.sigmoid(gx[:, :H] + gh[:, :H])
        z = torch.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1.0 - z) * n + z * h  # [B, H]


class RecurrentBlock(nn.Module):
    """One ws group: (group latents + offset) -> GRU -> residual update of the group latents."""

    def __init__(self, group_size: int, w_dim: int, input_dim: int, hidden_dim: int, update_init_scale: float,
                 linear_path: bool = False):
        super().__init__()
        flat = group_size * w_dim
        self.project: nn.Module = nn.Linear(flat, input_dim) if input_dim > 0 else nn.Identity()
        self.cell = LinearGRUCell(input_dim if input_dim > 0 else flat, hidden_dim)
        self.update = nn.Linear(hidden_dim, flat)
        nn.init.normal_(self.update.weight, std=update_init_scale * (2.0 / hidden_dim) ** 0.5)
        nn.init.zeros_(self.update.bias)
        self.linear: nn.Linear | None = None
        if linear_path:
            self.linear = nn.Linear(w_dim, w_dim)
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, group_size, w_dim], h [B, H] -> (update [B, group_size, w_dim], h_next [B, H])."""
        h_next = self.cell(self.project(x.flatten(1)), h)
        update = self.update(h_next).view(x.shape)
        if self.linear is not None:
            update = update + self.linear(x)
        return update, h_next


class RecurrentBlocks(nn.Module):
    """One RecurrentBlock per ws group; see the module docstring for the step/forward indexing."""

    def __init__(self, config: RecurrentConfig):
        super().__init__()
        self.config = config
        self.groups = config.groups
        self.blocks = nn.ModuleList(
            RecurrentBlock(end - start, config.w_dim, config.input_dim, config.hidden_dim, config.update_init_scale,
                           config.linear_path)
            for start, end in self.groups
        )

    @property
    def num_groups(self) -> int:
        return len(self.groups)

    def init_hidden(self, batch: int) -> torch.Tensor:
        """Zero state [B, num_groups, hidden_dim] on the module's device and dtype."""
        p = self.blocks[0].update.weight
        return torch.zeros(batch, self.num_groups, self.config.hidden_dim, device=p.device, dtype=p.dtype)

    def _check(self, name: str, t: torch.Tensor, shape: tuple[int, ...]) -> None:
        if tuple(t.shape[1:]) != shape[1:] or t.shape[0] != shape[0]:
            raise LivevisError(f"recurrent blocks: {name} must be {list(shape)}, got {list(t.shape)}")

    def step(self, ws: torch.Tensor, hidden: torch.Tensor, offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One keyframe: ws [B, num_ws, w_dim] (w_hat^(t-1)), hidden [B, G, H], offset [B, num_ws, w_dim]
        (E_a of the newest window) -> (ws_next [B, num_ws, w_dim], hidden_next [B, G, H])."""
        c = self.config
        B = ws.shape[0]
        self._check("ws", ws, (B, c.num_ws, c.w_dim))
        self._check("hidden", hidden, (B, self.num_groups, c.hidden_dim))
        self._check("offset", offset, (B, c.num_ws, c.w_dim))
        inp = ws + offset  # [B, num_ws, w_dim]: E_a(x^(t-1)) + w_hat^(t-1)
        ws_parts, h_parts = [], []
        for g, ((start, end), block) in enumerate(zip(self.groups, self.blocks)):
            update, h_next = block(inp[:, start:end], hidden[:, g])      # [B, n_g, w_dim], [B, H]
            ws_parts.append(ws[:, start:end] + c.update_scale * update)
            h_parts.append(h_next)
        return torch.cat(ws_parts, dim=1), torch.stack(h_parts, dim=1)

    def forward(self, ws0: torch.Tensor, offsets: torch.Tensor, anchor_leak: float = 0.0) -> torch.Tensor:
        """ws0 [B, num_ws, w_dim], offsets [B, T, num_ws, w_dim] -> ws_seq [B, T, num_ws, w_dim] (causal).

        anchor_leak pulls each new latent towards ws0 as the live path's leash does
        (livevis.pipeline.latent.LatentDriver: ws = lerp(step(...), anchor, anchor_leak)), so training
        can unroll exactly what playback shows."""
        c = self.config
        if offsets.ndim != 4:
            raise LivevisError(f"recurrent blocks: offsets must be [B, T, {c.num_ws}, {c.w_dim}], "
                               f"got {list(offsets.shape)}")
        B, T = offsets.shape[:2]
        self._check("offsets", offsets, (B, T, c.num_ws, c.w_dim))
        ws, hidden = ws0, self.init_hidden(B)
        out = []
        for t in range(T):
            ws, hidden = self.step(ws, hidden, offsets[:, t])
            if anchor_leak > 0:
                ws = torch.lerp(ws, ws0, anchor_leak)
            out.append(ws)
        return torch.stack(out, dim=1)  # [B, T, num_ws, w_dim]
