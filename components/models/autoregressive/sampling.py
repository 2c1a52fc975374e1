"""Ancestral sampling for the autoregressive families, and the caches that make it cost one forward pass an image.

A full pass a pixel recomputes every layer at every position to read one pixel's logits: H x W x C passes an
image. But once pixel p is drawn, every layer's output at p (or before p) is final, so each layer need only
compute its one new position, reading the rows its kernel covers from a cache (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models"): the masked convolutions keep their last k//2 + 1 input rows,
the Row LSTM keeps the previous row's state, Gated PixelCNN computes its vertical stack once a row. `FullPass` is
the reference the tests hold every cache to: the same generator state draws the same samples.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from components.models.autoregressive.layers import RowWindow, pointwise


class PixelCache(Protocol):
    """One image batch's sampling state, advanced in raster order."""

    def row(self, r: int) -> None:
        """Start row r (every pixel above has been `put`)."""

    def logits(self, col: int) -> torch.Tensor:
        """(N, levels, C): the current row's pixel `col`, every channel; only channels up to the one being drawn
        are final (the later ones read the zeros not yet drawn, as in a full pass)."""

    def put(self, col: int, pixel: torch.Tensor) -> None:
        """The current row's pixel `col` as the network reads it, (N, C): its channels drawn so far, zeros after."""


def draw(model, cache: PixelCache, n: int, rng: torch.Generator, bar=None,
         given: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """(n, C, H, W) integer levels, drawn pixel by pixel and channel by channel from the cache's logits. `given`
    (a (H, W) mask, (n, C, H, W) levels) holds pixels that are not drawn but taken as they are (the multi-scale
    model's subsampled image); the cache still computes their position, which the pixels after them read."""
    c, h, w = model.image_shape
    q = torch.zeros(n, c, h, w, dtype=torch.long, device=rng.device)
    for r in range(h):
        cache.row(r)
        for col in range(w):
            if given is not None and given[0][r, col]:
                q[:, :, r, col] = given[1][:, :, r, col]
                cache.put(col, model.as_input(q[:, :, r, col]))
                cache.logits(col)
                continue
            for ch in range(c):
                probs = cache.logits(col)[:, :, ch].float().softmax(1)
                q[:, ch, r, col] = torch.multinomial(probs, 1, generator=rng).squeeze(1)
                cache.put(col, model.as_input(q[:, :, r, col]))
                if bar is not None:
                    bar.update(1)
    return q


class FullPass:
    """The reference: the whole network on rows 0..r for every pixel of row r (rows below never reach row r)."""

    def __init__(self, model, n: int, labels: torch.Tensor | None, like: torch.Tensor,
                 context: torch.Tensor | None = None):
        self.model, self.labels = model, labels
        self.context = () if context is None else (context,)  # a PixelCNN's whole-image conditioning input
        self.x = like.new_zeros(n, *model.image_shape)

    def row(self, r: int) -> None:
        self.r = r

    def logits(self, col: int) -> torch.Tensor:
        return self.model.logits(self.x[:, :, :self.r + 1], self.labels, *self.context)[:, :, :, self.r, col]

    def put(self, col: int, pixel: torch.Tensor) -> None:
        self.x[:, :, self.r, col] = pixel


def _to_logits(model, out: torch.Tensor) -> torch.Tensor:
    """One position's (N, C * output.params) outputs, grouped by image channel -> (N, levels, C) log-probabilities."""
    return model.output.log_probs(model.grouped(out[:, :, None, None]))[:, :, :, 0, 0]


class PixelCnnCache:
    """PixelCNN: each masked layer keeps a window of its input rows and computes one position a step."""

    def __init__(self, model, n: int, labels: torch.Tensor | None, like: torch.Tensor,
                 context: torch.Tensor | None = None):
        self.m = model
        c, _, w = model.image_shape
        self.x = RowWindow(like, c, model.inp.kernel_size[0], w)
        self.h = [RowWindow(like, layer.in_channels, layer.kernel_size[0], w) for layer in model.layers]
        self.context = None if context is None else model.context(context)  # (N, hidden, H, W), computed once

    def row(self, r: int) -> None:
        self.r = r
        for window in (self.x, *self.h):
            window.next_row()

    def logits(self, col: int) -> torch.Tensor:
        h = self.m.inp.at(self.x, col)
        if self.context is not None:
            h = h + self.context[:, :, self.r, col]
        for layer, window in zip(self.m.layers, self.h):
            window.put(col, F.relu(h))  # what the layer reads (PixelCNN.logits: h + layer(relu(h)))
            h = h + layer.at(window, col)
        return _to_logits(self.m, pointwise(self.m.out, h))

    def put(self, col: int, pixel: torch.Tensor) -> None:
        self.x.put(col, pixel)


class GatedCache:
    """Gated PixelCNN: the vertical stack once a row (it reads only the rows above); the horizontal stack one
    position a pixel, from a row of its own h per layer."""

    def __init__(self, model, n: int, labels: torch.Tensor | None, like: torch.Tensor):
        self.m = model
        _, _, self.width = model.image_shape
        self.e = [layer.embed(labels) if layer.embed is not None and model.conditional else None
                  for layer in model.layers]
        self.v = [RowWindow(like, model.hidden, layer.k, self.width) for layer in model.layers]
        self.x_row = like.new_zeros(n, 1, self.width)

    def row(self, r: int) -> None:
        """Row r - 1 is complete: run the vertical stack on it, which row r's horizontal stack reads (row 0's
        reads zeros: nothing is above it)."""
        n = len(self.x_row)
        if r == 0:
            self.v_to_h = [layer.v_to_h(self.x_row.new_zeros(n, 2 * self.m.hidden, 1, self.width))[:, :, 0]
                           for layer in self.m.layers]
        else:
            v = pointwise(self.m.inp, self.x_row.transpose(1, 2).flatten(0, 1))  # (N * W, hidden)
            v = v.view(n, self.width, -1).transpose(1, 2)
            for i, (layer, window) in enumerate(zip(self.m.layers, self.v)):
                window.next_row()
                window.put_row(v)
                v, self.v_to_h[i] = layer.vertical_at(window, self.e[i])
        self.h = [self.x_row.new_zeros(n, self.m.hidden, self.width + layer.k // 2 + 1) for layer in self.m.layers]
        self.x_row = torch.zeros_like(self.x_row)

    def logits(self, col: int) -> torch.Tensor:
        h = self.m.layers[0].horizontal_at(self.h[0], col, self.v_to_h[0], self.e[0], None)  # the first: mask A
        for i, layer in enumerate(self.m.layers[1:], 1):
            self.h[i][:, :, col + layer.k // 2 + 1] = h
            h = layer.horizontal_at(self.h[i], col, self.v_to_h[i], self.e[i], h)
        return _to_logits(self.m, pointwise(self.m.out, h))

    def put(self, col: int, pixel: torch.Tensor) -> None:
        self.x_row[:, :, col] = pixel
        first = self.m.layers[0]
        self.h[0][:, :, col + first.k // 2 + 1] = pointwise(self.m.inp, pixel)


class RowLstmCache:
    """PixelRNN: each Row LSTM keeps the previous row's (h, c) and its state-to-state term for the current row,
    and steps one position a pixel."""

    def __init__(self, model, n: int, labels: torch.Tensor | None, like: torch.Tensor):
        self.m = model
        _, _, w = model.image_shape
        self.x = RowWindow(like, 1, model.inp.kernel_size[0], w)
        self.inputs = [RowWindow(like, model.hidden, lstm.input_to_state.kernel_size[0], w) for lstm in model.layers]
        self.h = [like.new_zeros(n, model.hidden, w) for _ in model.layers]
        self.c = [like.new_zeros(n, model.hidden, w) for _ in model.layers]

    def row(self, r: int) -> None:
        for window in (self.x, *self.inputs):
            window.next_row()
        self.s2s = [lstm.state_to_state(h) for lstm, h in zip(self.m.layers, self.h)]
        self.c_above = self.c
        self.h = [torch.zeros_like(h) for h in self.h]
        self.c = [torch.zeros_like(c) for c in self.c]

    def logits(self, col: int) -> torch.Tensor:
        a = self.m.inp.at(self.x, col)
        for i, (lstm, proj) in enumerate(zip(self.m.layers, self.m.proj)):
            self.inputs[i].put(col, a)
            gates = lstm.input_to_state.at(self.inputs[i], col) + self.s2s[i][:, :, col]
            h, self.c[i][:, :, col] = lstm.cell(gates, self.c_above[i][:, :, col])
            self.h[i][:, :, col] = h
            a = a + pointwise(proj, h)
        return _to_logits(self.m, pointwise(self.m.out, a))

    def put(self, col: int, pixel: torch.Tensor) -> None:
        self.x.put(col, pixel)
