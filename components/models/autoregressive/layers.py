"""Causal building blocks: masked convolutions (PixelCNN), the gated two-stack layer (Gated PixelCNN) and the
Row LSTM layer (PixelRNN). Pixels are ordered row by row, left to right, and within a pixel by channel
(R before G before B), so output i may depend only on inputs before i.

Each block also computes one new position from cached rows (`RowWindow`, the `..._at` methods), which is what
makes sampling cost one forward pass an image (autoregressive/sampling.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """Type A hides the current pixel's own channel and later ones (first layer); type B lets a channel see
    itself. With `groups_of` image channels, feature maps are split into that many ordered groups."""

    mask: torch.Tensor

    def __init__(self, in_ch: int, out_ch: int, kernel: int, mask_type: str, image_channels: int = 1):
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        if mask_type not in "AB" or len(mask_type) != 1:
            raise ValueError(f"mask_type {mask_type!r}: A or B")
        if in_ch % image_channels or out_ch % image_channels:
            raise ValueError(f"channels {in_ch}->{out_ch} must split into {image_channels} groups")
        mask = torch.ones_like(self.weight)
        c = kernel // 2
        mask[:, :, c, c + 1:] = 0  # right of the centre
        mask[:, :, c + 1:] = 0  # rows below
        gi, go = in_ch // image_channels, out_ch // image_channels
        for o in range(image_channels):  # the centre: which channel groups an output group may read
            for i in range(image_channels):
                if i > o or (i == o and mask_type == "A"):
                    mask[o * go:(o + 1) * go, i * gi:(i + 1) * gi, c, c] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)

    def at(self, window: "RowWindow", col: int) -> torch.Tensor:
        """(N, out_ch): the output at column `col` of the window's newest row. The mask zeroes every row below,
        so the window's rows (those above and the current one) are all the kernel reads."""
        k = self.kernel_size[0]
        patch = window.rows[:, :, :, col:col + k]  # (N, in_ch, k // 2 + 1, k)
        return F.linear(patch.flatten(1), (self.weight * self.mask)[:, :, :k // 2 + 1].flatten(1), self.bias)


class RowWindow:
    """The newest `kernel // 2 + 1` rows of a layer's input, zero-padded at the sides and above the image: all
    that a causal kernel reads for the current row. Positions not yet written hold zeros, which the masks
    hide, as a full pass's zeros for the pixels not yet drawn are hidden."""

    def __init__(self, like: torch.Tensor, channels: int, kernel: int, width: int):
        self.pad = kernel // 2
        self.rows = like.new_zeros(len(like), channels, self.pad + 1, width + 2 * self.pad)

    def next_row(self) -> None:
        self.rows = torch.cat([self.rows[:, :, 1:], torch.zeros_like(self.rows[:, :, :1])], 2)

    def put(self, col: int, value: torch.Tensor) -> None:
        """The newest row's column `col` = value, (N, channels)."""
        self.rows[:, :, -1, col + self.pad] = value

    def put_row(self, value: torch.Tensor) -> None:
        """The whole newest row = value, (N, channels, width)."""
        self.rows[:, :, -1, self.pad:self.rows.shape[3] - self.pad] = value


def pointwise(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A stack of 1x1 convolutions and activations applied to one position's features, (N, C) -> (N, C')."""
    return module(x[:, :, None, None])[:, :, 0, 0]


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) over dim 1: the gated activation of Gated PixelCNN."""
    f, g = a.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """van den Oord et al. 2016 (Conditional PixelCNN): a vertical stack that sees every row above and a
    horizontal stack that sees the pixels to the left, joined so there is no blind spot; gated activations
    tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h) with a class embedding h."""

    def __init__(self, ch: int, kernel: int, first: bool, num_classes: int = 0):
        super().__init__()
        self.ch, self.k, self.first = ch, kernel, first
        half = kernel // 2
        # vertical: (half+1) x kernel over rows up to and including this one, then shifted down one row
        self.v_conv = nn.Conv2d(ch, 2 * ch, (half + 1, kernel), padding=0)
        self.v_to_h = nn.Conv2d(2 * ch, 2 * ch, 1)
        # horizontal: 1 x (half+1) over this row up to this pixel (excluding it in the first layer)
        self.h_conv = nn.Conv2d(ch, 2 * ch, (1, half + 1), padding=0)
        self.h_out = nn.Conv2d(ch, ch, 1)
        self.embed = nn.Embedding(num_classes, 2 * ch) if num_classes else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, cond: torch.Tensor | None):
        half = self.k // 2
        v_feat = self.v_conv(F.pad(v, (half, half, half, 0)))  # at row r: rows r-half..r (all columns)
        v_above = F.pad(v_feat, (0, 0, 1, 0))[:, :, :-1]  # shifted down one row: strictly above row r
        if self.first:  # mask A: shift right so the pixel itself is not seen
            h_in = F.pad(h, (half + 1, 0, 0, 0))[:, :, :, :-1]
        else:
            h_in = F.pad(h, (half, 0, 0, 0))
        h_feat = self.h_conv(h_in) + self.v_to_h(v_above)  # the join that removes PixelCNN's blind spot
        if self.embed is not None and cond is not None:
            e = self.embed(cond)[:, :, None, None]
            v_feat, h_feat = v_feat + e, h_feat + e
        v_out = gate(v_feat)
        h_out = self.h_out(gate(h_feat))
        return v_out, (h_out if self.first else h + h_out)

    def vertical_at(self, window: RowWindow, e: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The vertical stack on the window's newest row r (the rows r - k//2 .. r of this layer's v): (the next
        layer's v on row r, (N, ch, W); this layer's v-to-h term for row r + 1, (N, 2ch, W))."""
        v_feat = self.v_conv(window.rows)  # (N, 2ch, 1, W)
        v_to_h = self.v_to_h(v_feat)[:, :, 0]
        if e is not None:
            v_feat = v_feat + e[:, :, None, None]
        return gate(v_feat)[:, :, 0], v_to_h

    def horizontal_at(self, row: torch.Tensor, col: int, v_to_h: torch.Tensor, e: torch.Tensor | None,
                      h: torch.Tensor | None) -> torch.Tensor:
        """The horizontal stack at (current row, col), (N, ch), from `row` (N, ch, W + k//2 + 1): this layer's h
        on the current row, shifted right by k//2 + 1 so that column c sits at c + k//2 + 1; `h` is h at col
        (None for the first layer, which reads only the pixels to the left and adds no residual)."""
        half = self.k // 2
        left = col if self.first else col + 1  # mask A: columns col-half-1 .. col-1; mask B: col-half .. col
        h_feat = F.linear(row[:, :, left:left + half + 1].flatten(1), self.h_conv.weight.flatten(1),
                          self.h_conv.bias) + v_to_h[:, :, col]
        if e is not None:
            h_feat = h_feat + e
        h_out = pointwise(self.h_out, gate(h_feat))
        return h_out if h is None else h + h_out


class RowLSTM(nn.Module):
    """PixelRNN's Row LSTM (van den Oord et al. 2016): row by row, each row's state comes from a 1-D
    convolution over the previous row's state (a triangular receptive field above) plus an input-to-state
    masked convolution along the current row (type B: input features are already causal)."""

    def __init__(self, ch: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(ch, 4 * hidden, kernel, "B")
        self.input_to_state.mask[:, :, :kernel // 2] = 0  # only the current row: 1 x k, left part + centre
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, rows, cols = x.shape
        gates_in = self.input_to_state(x)  # (N, 4h, H, W)
        h = x.new_zeros(n, self.hidden, cols)
        c = x.new_zeros(n, self.hidden, cols)
        out = []
        for r in range(rows):
            h, c = self.cell(gates_in[:, :, r] + self.state_to_state(h), c)
            out.append(h)
        return torch.stack(out, dim=2)  # (N, hidden, H, W): row r saw rows < r fully, row r up to its pixel

    @staticmethod
    def cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The LSTM update (h, c) from the four gates' pre-activations stacked on dim 1 and the previous c."""
        i, f, o, g = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
