"""Figures for the 2-D playground: contour + trajectories, loss vs step, and an animation.

matplotlib is imported inside the functions (and switched to the file-only Agg backend when no
backend was chosen), so `import descentlab.lab` stays NumPy-only. Contour levels are log-spaced in
f - min(f) over the plotted box, which shows both the steep walls and the flat valley floor.

Example:
    >>> from descentlab.lab import run_playground
    >>> res = run_playground("himmelblau", "sgd,adam", steps=100)
    >>> paths = res.save("out/himmelblau")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from descentlab.lab.playground import PlaygroundResult

__all__ = ["contour_figure", "loss_figure", "save_figures", "save_animation", "COLORS"]

# matplotlib's tab10: the first six are easy to tell apart on the grey contour background.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
          "#bcbd22", "#17becf")  # fmt: skip
_GRID = 240
_MAX_FRAMES = 120


def _pyplot() -> Any:
    import matplotlib

    if "matplotlib.pyplot" not in __import__("sys").modules:
        matplotlib.use("Agg")  # files only; a notebook that already chose a backend keeps it
    import matplotlib.pyplot as plt

    return plt


def _color(i: int) -> str:
    if i < len(COLORS):
        return COLORS[i]
    import matplotlib

    return matplotlib.colormaps["tab20b"](i % 20)


def _title(result: PlaygroundResult) -> str:
    s = result.settings
    bits = [f"{result.surface.name}: {s['steps']} steps"]
    if s["tuned"]:
        bits.append("lr tuned")
    if s["noise"]:
        bits.append(f"noise {s['noise']:g}")
    if s["clip_norm"]:
        bits.append(f"clip {s['clip_norm']:g}")
    return ", ".join(bits)


def _label(result: PlaygroundResult, row: dict[str, Any]) -> str:
    lr = row["lr"]
    text = row["optimizer"] if lr is None else f"{row['optimizer']} (lr {lr:.3g})"
    if row["status"] == "diverged":
        text += " - diverged"
    return text


def _draw_surface(ax: Any, result: PlaygroundResult) -> None:
    surface = result.surface
    x0, x1, y0, y1 = surface.plot_range
    xs, ys = np.linspace(x0, x1, _GRID), np.linspace(y0, y1, _GRID)
    X, Y = np.meshgrid(xs, ys)
    Z = surface.numpy(X, Y)
    finite = Z[np.isfinite(Z)]
    zmin, zmax = float(finite.min()), float(finite.max())
    span = max(zmax - zmin, 1e-12)
    # Log-spaced above the lowest value in view: the valley floor and the walls both get lines.
    offsets = np.logspace(math.log10(span * 1e-5), math.log10(span), 30)
    levels = zmin + np.concatenate(([0.0], offsets))
    levels = np.unique(levels)
    filled = ax.contourf(X, Y, Z, levels=levels, cmap="Greys_r", alpha=0.35, extend="both")
    filled.set_rasterized(True)  # keeps the SVG small; the contour lines stay vectors
    ax.contour(X, Y, Z, levels=levels, colors="0.45", linewidths=0.5)
    mins = np.asarray(surface.minima).reshape(-1, 2)
    if len(mins):
        ax.plot(mins[:, 0], mins[:, 1], "*", color="#FFD700", ms=14, mec="k", mew=0.6,
                label="global minimum" if len(mins) == 1 else "global minima", zorder=5)  # fmt: skip
    locs = np.asarray(surface.local_minima).reshape(-1, 2)
    if len(locs):
        ax.plot(locs[:, 0], locs[:, 1], "*", color="white", ms=10, mec="k", mew=0.6,
                label="local minima", zorder=5)  # fmt: skip
    sad = np.asarray(surface.saddle_points).reshape(-1, 2)
    if len(sad):
        ax.plot(sad[:, 0], sad[:, 1], "X", color="white", ms=9, mec="k", label="saddle point",
                zorder=5)  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def contour_figure(result: PlaygroundResult, seed_index: int = 0) -> Any:
    """Contour plot (log-spaced levels) with each optimizer's path, start and minima marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 6.5), layout="constrained")
    _draw_surface(ax, result)
    for i, row in enumerate(result.table):
        runs = result.runs[row["optimizer"]]
        run = runs[seed_index]
        pos = run.positions
        color = _color(i)
        for k, other in enumerate(runs):  # the other seeds, faint, so the spread shows
            if k != seed_index:
                ax.plot(other.positions[:, 0], other.positions[:, 1], "-", color=color, lw=0.7,
                        alpha=0.3, zorder=2)  # fmt: skip
        ax.plot(pos[:, 0], pos[:, 1], "-", color=color, lw=1.6, label=_label(result, row),
                zorder=3)  # fmt: skip
        ax.plot(pos[-1, 0], pos[-1, 1], "x" if run.diverged else "o", color=color, ms=7, mew=2,
                zorder=4)  # fmt: skip
    sx, sy = result.settings["start"]
    ax.plot(sx, sy, "o", color="white", mec="k", ms=9, label="start", zorder=6)
    ax.set_title(_title(result))
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    return fig


def loss_figure(result: PlaygroundResult) -> Any:
    """f - f* against step on a log axis (mean over seeds, min-max band when there are several)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    f_star = result.surface.f_min
    for i, row in enumerate(result.table):
        runs = result.runs[row["optimizer"]]
        length = max(len(r.values) for r in runs)
        curves = np.full((len(runs), length), np.nan)
        for j, r in enumerate(runs):
            curves[j, : len(r.values)] = r.values
        if f_star is not None:
            # Clamp at a floor so an exact hit of the minimum (0 on a log axis) still shows.
            curves = np.maximum(curves - f_star, 1e-16)
        steps = np.arange(length)
        color = _color(i)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(curves, axis=0)
                lo, hi = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
        ax.plot(steps, mean, color=color, lw=1.6, label=_label(result, row))
        if len(runs) > 1:
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2, lw=0)
    if f_star is not None:
        ax.set_yscale("log")
        ax.set_ylabel("f(x_t) - f*")
    else:
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_ylabel("f(x_t)")
    ax.set_xlabel("step")
    ax.set_title(_title(result))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def save_figures(result: PlaygroundResult, out_dir: str | Path,
                 formats: Sequence[str] = ("png", "svg")) -> dict[str, Path]:  # fmt: skip
    """Write contour.<fmt> and loss.<fmt> for each format; returns name -> path."""
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        raise ValueError(f"figure formats must be among png, svg, pdf; got {bad}")
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, make in (("contour", contour_figure), ("loss", loss_figure)):
        fig = make(result)
        try:
            for fmt in formats:
                path = out / f"{name}.{fmt}"
                fig.savefig(path, dpi=120)
                paths[f"{name}_{fmt}"] = path
        finally:
            plt.close(fig)
    return paths


def _animation_frames(result: PlaygroundResult, dpi: int) -> tuple[Any, list, tuple, np.ndarray]:
    """Render the static picture once; return it with each path in axes-pixel coordinates."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 5.2), layout="constrained", dpi=dpi)
    try:
        _draw_surface(ax, result)
        sx, sy = result.settings["start"]
        ax.plot(sx, sy, "o", color="white", mec="k", ms=9, zorder=6, label="start")
        paths = []
        for i, row in enumerate(result.table):
            ax.plot([], [], "-", color=_color(i), lw=1.6, label=_label(result, row))
            paths.append((result.runs[row["optimizer"]][0].positions, _color(i)))
        # Outside the axes: the frames draw the paths over everything inside them.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7)
        ax.set_title(_title(result))
        fig.canvas.draw()
        background = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        height = background.shape[0]
        bbox = ax.get_window_extent()
        # Axes box in image pixels (origin top-left), and each path in the same pixels.
        left, top = int(round(bbox.x0)), int(round(height - bbox.y1))
        box = (left, top, int(round(bbox.x1)), int(round(height - bbox.y0)))
        pix = []
        for pos, color in paths:
            xy = ax.transData.transform(pos) if len(pos) else np.zeros((0, 2))
            xy = np.column_stack([xy[:, 0] - left, height - xy[:, 1] - top])
            pix.append((np.nan_to_num(xy, posinf=1e6, neginf=-1e6), color))
    finally:
        plt.close(fig)
    return background, pix, box, np.array([len(p) for p, _ in paths])


def _hex(color: Any) -> tuple[int, int, int, int]:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(color)
    return (int(r * 255), int(g * 255), int(b * 255), 255)


def save_animation(result: PlaygroundResult, path: str | Path, fps: int = 20,
                   dpi: int = 100) -> Path:  # fmt: skip
    """Animate the trajectories (seed 0) over the contour: a GIF (Pillow) or a self-contained HTML.

    The contour is rendered once; the frames only draw the growing paths (clipped to the axes),
    so a 120-frame animation takes about a second.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("gif", "html"):
        raise ValueError(f"animation format must be gif or html, got {path.suffix!r} ({path})")
    background, pix, box, lengths = _animation_frames(result, dpi)
    longest = int(max(lengths.max(), 1))
    frames = np.unique(np.linspace(0, longest - 1, min(longest, _MAX_FRAMES)).astype(int))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        path.write_text(_html_animation(result, background, pix, box, frames, fps))
        return path
    from PIL import Image, ImageDraw

    base = Image.fromarray(background)
    size = (box[2] - box[0], box[3] - box[1])
    # One shared palette (background + path colours): frames then differ only where paths grew,
    # which GIF stores as small deltas.
    exact = [c for _, color in pix for c in _hex(color)[:3]] + [0, 0, 0, 255, 255, 255]
    n_bg = 256 - len(exact) // 3
    bg_palette = base.quantize(colors=n_bg, dither=Image.Dither.NONE).getpalette() or []
    palette = Image.new("P", (1, 1))
    palette.putpalette((bg_palette[: 3 * n_bg] + [0] * (3 * n_bg))[: 3 * n_bg] + exact)
    images = []
    for k in frames:
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for xy, color in pix:
            upto = min(int(k), len(xy) - 1)
            if upto < 0:
                continue
            pts = [tuple(p) for p in xy[: upto + 1].tolist()]
            rgba = _hex(color)
            if len(pts) > 1:
                draw.line(pts, fill=rgba, width=2, joint="curve")
            hx, hy = pts[-1]
            draw.ellipse((hx - 4, hy - 4, hx + 4, hy + 4), fill=rgba, outline=(0, 0, 0, 255))
        draw.text((6, size[1] - 16), f"step {int(k)}", fill=(0, 0, 0, 255))
        frame = base.copy()
        frame.paste(layer, box[:2], layer)  # the layer's alpha clips the paths to the axes
        images.append(frame.quantize(palette=palette, dither=Image.Dither.NONE))
    duration = max(int(1000 / fps), 20)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0,
                   optimize=False)  # fmt: skip
    return path


def _html_animation(result: PlaygroundResult, background: np.ndarray, pix: list, box: tuple,
                    frames: np.ndarray, fps: int) -> str:  # fmt: skip
    """One HTML file: the contour as an embedded PNG and a canvas script that draws the paths."""
    import base64
    import io
    import json

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(background).save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    data = {
        "box": list(box),
        "frames": [int(k) for k in frames],
        "paths": [
            {"xy": np.round(xy, 1).tolist(), "color": "rgb({},{},{})".format(*_hex(c)[:3])}
            for xy, c in pix
        ],  # fmt: skip
        "delay": max(int(1000 / fps), 20),
    }
    h, w = background.shape[:2]
    title = _title(result).replace("<", "&lt;")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif">
<canvas id="c" width="{w}" height="{h}"></canvas><br>
<button id="play">replay</button> <span id="step"></span>
<script>
const D = {json.dumps(data)};
const img = new Image();
img.src = "data:image/png;base64,{png}";
const ctx = document.getElementById("c").getContext("2d");
let i = 0, timer = null;
function draw() {{
  const k = D.frames[i];
  ctx.drawImage(img, 0, 0);
  ctx.save();
  ctx.beginPath();
  ctx.rect(D.box[0], D.box[1], D.box[2] - D.box[0], D.box[3] - D.box[1]);
  ctx.clip();
  ctx.translate(D.box[0], D.box[1]);
  for (const p of D.paths) {{
    const n = Math.min(k, p.xy.length - 1);
    if (n < 0) continue;
    ctx.strokeStyle = p.color; ctx.fillStyle = p.color; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(p.xy[0][0], p.xy[0][1]);
    for (let j = 1; j <= n; j++) ctx.lineTo(p.xy[j][0], p.xy[j][1]);
    ctx.stroke();
    ctx.beginPath(); ctx.arc(p.xy[n][0], p.xy[n][1], 4, 0, 2 * Math.PI); ctx.fill();
  }}
  ctx.restore();
  document.getElementById("step").textContent = "step " + k;
  i += 1;
  if (i >= D.frames.length) {{ clearInterval(timer); timer = null; }}
}}
function play() {{ if (timer) clearInterval(timer); i = 0; timer = setInterval(draw, D.delay); }}
img.onload = play;
document.getElementById("play").onclick = play;
</script></body></html>
"""
