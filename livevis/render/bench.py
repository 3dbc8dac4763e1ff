"""Display-side benchmark: upload + draw ms per frame through the EGL offscreen target.

    python -m livevis.render.bench --size 256 --frames 300 [--viewport 1280x720] [--no-effects] [--json]

Frames are pregenerated (so the pattern's cost is not measured); each step uploads one through the
PBO path, runs post effect + letterbox blit (+ overlay with --overlay) and waits for the GL work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


from livevis.errors import LivevisError
from livevis.render.frame import Frame
from livevis.render.offscreen import Offscreen
from livevis.render.renderer import Renderer
from livevis.render.stats import Rolling
from livevis.render.synthetic import pattern


def measure(size: int, frames: int, viewport: tuple[int, int] | None = None, effects: bool = True, overlay: bool = False) -> dict:
    target = Offscreen(*(viewport or (size, size)))
    renderer = Renderer(target.ctx, size, size)
    try:
        inputs = [Frame(rgba=pattern(size, size, 0.1 * i), seq=i) for i in range(8)]
        upload, draw = Rolling(frames), Rolling(frames)
        lines = ["fps 60.0  frames 100  dropped 0", "upload 0.3 ms (p95 0.4)  draw 1.0 ms (p95 1.2)"] if overlay else None
        for i in range(frames + 10):  # 10 warm-up steps
            start = time.perf_counter()
            renderer.upload(inputs[i % len(inputs)])
            target.ctx.finish()
            mid = time.perf_counter()
            target.use()
            renderer.draw(target.framebuffer_size, post={"level": 0.5, "onset": (i % 10) / 10, "time": i / 60}, effects_on=effects, overlay_lines=lines)
            target.ctx.finish()
            end = time.perf_counter()
            if i >= 10:
                upload.add(1e3 * (mid - start))
                draw.add(1e3 * (end - mid))
        return {
            "renderer": target.ctx.info["GL_RENDERER"],
            "size": size,
            "viewport": list(target.framebuffer_size),
            "frames": frames,
            "stages_ms": {"upload": upload.summary(), "draw": draw.summary()},
        }
    finally:
        renderer.release()
        target.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m livevis.render.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--viewport", default=None, help="WxH of the output framebuffer (default: the frame size)")
    parser.add_argument("--no-effects", action="store_true")
    parser.add_argument("--overlay", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        viewport = tuple(int(v) for v in args.viewport.lower().split("x")) if args.viewport else None
        result = measure(args.size, args.frames, viewport, effects=not args.no_effects, overlay=args.overlay)
    except (LivevisError, ValueError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        s = result["stages_ms"]
        print(f"{result['renderer']}  {args.size}x{args.size} -> {result['viewport'][0]}x{result['viewport'][1]}")
        for stage in ("upload", "draw"):
            print(f"  {stage:6s} median {s[stage]['median']:.3f} ms  p95 {s[stage]['p95']:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
