"""`livevis models list | download NAME | import PATH --out BUNDLE | info BUNDLE`."""

from __future__ import annotations

import argparse
import json
import sys

from livevis.errors import LivevisError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    sub.add_parser("list", help="known pretrained models and whether they are cached")
    p = sub.add_parser("download", help="download a registry model (generators are converted to a bundle)")
    p.add_argument("name", metavar="NAME", help="a name from `livevis models list`")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("import", help="convert an NVlabs .pkl or rosinality .pt generator into a bundle")
    p.add_argument("path", metavar="PATH", help="the checkpoint to convert")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle directory to write")
    p.add_argument("--name", help="bundle name (default: the file name)")
    p.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    p = sub.add_parser("info", help="describe a bundle (a path, a registry name or 'default')")
    p.add_argument("bundle", metavar="BUNDLE", nargs="?", default="default")
    p.add_argument("--json", action="store_true", help="print config.json plus sha256 as one JSON object")


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "download": _download, "import": _import, "info": _info}[args.action](args)


def _list(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from livevis.models import registry
    from livevis.models.download import is_cached
    from livevis.models.resolve import cached_bundle_path

    table = Table(title="livevis models", title_justify="left")
    for column in ("name", "format", "resolution", "licence", "cached"):
        table.add_column(column)
    table.add_row("default", "livevis-bundle", "256", "shipped with livevis", "built in")
    for entry in registry.REGISTRY.values():
        if entry.format == "open_clip":
            cached = "managed by open_clip"
        elif (cached_bundle_path(entry.name) / "config.json").is_file():
            cached = "bundle"
        else:
            cached = "download" if is_cached(entry) else "no"
        table.add_row(entry.name, entry.format, str(entry.resolution or "-"), entry.licence, cached)
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return 0


def _download(args) -> int:
    from livevis.models import registry
    from livevis.models.resolve import ensure_registry_bundle

    entry = registry.get(args.name)
    if entry.format == "open_clip":
        try:
            import open_clip

            open_clip.create_model(entry.open_clip_name, pretrained=entry.open_clip_tag)
        except Exception as exc:  # network and hub errors come in many types
            raise LivevisError(f"open_clip could not fetch {entry.open_clip_name}/{entry.open_clip_tag}: "
                               f"{' '.join(str(exc).split())}") from None
        print(f"{entry.name}: cached by open_clip")
        return 0
    path = ensure_registry_bundle(entry, progress=not args.no_progress)
    print(path)
    return 0


def _import(args) -> int:
    import torch

    from livevis.models.resolve import import_generator

    out = import_generator(
        args.path,
        args.out,
        name=args.name,
        weights_dtype=torch.float16 if args.fp16 else torch.float32,
    )
    print(out)
    return 0


def _info(args) -> int:
    from livevis.models.bundle import MODULE_PARTS, bundle_sha256, read_config
    from livevis.models.resolve import resolve_model

    from livevis.models import registry
    from livevis.models.resolve import cached_bundle_path

    entry = registry.REGISTRY.get(args.bundle)
    if entry is not None and not (cached_bundle_path(entry.name) / "config.json").is_file():
        return _info_entry(entry, args.json)  # describe it without a (possibly large) download
    path = resolve_model(args.bundle)
    config = read_config(path)
    digest = bundle_sha256(path)
    if args.json:
        print(json.dumps({"path": str(path), "sha256": digest, "config": config}))
        return 0
    prov = config["provenance"]
    rows = [
        ("name", config["name"]),
        ("path", str(path)),
        ("description", config["description"]),
        ("stand-in", "yes (untrained weights)" if prov.get("stand_in") else "no"),
        ("sha256", digest),
        ("weights", config["weights_dtype"]),
    ]
    for part in MODULE_PARTS:
        if part in config:
            rows.append((part, f"{config[part]['arch']} {_size_of(path, part)}"))
    if "clip" in config:
        clip = config["clip"]
        what = f"{clip['name']}/{clip['pretrained']}" if clip["kind"] == "open_clip_pretrained" else _size_of(path, "clip")
        rows.append(("clip", f"{clip['kind']} {what}"))
    rows.append(("audio", ", ".join(f"{k}={v}" for k, v in config["audio"].items())))
    rows.append(("classes", ", ".join(c["name"] for c in config["classes"]) or "-"))
    rows.append(("created", f"{prov.get('created', '?')} (livevis {prov.get('livevis_version', '?')})"))
    if prov.get("recipe"):
        rows.append(("recipe", prov["recipe"]))
    for name, sha in (prov.get("inputs") or {}).items():
        rows.append(("input", f"{name} sha256 {sha}"))
    width = 2 + max(len(label) for label, _ in rows)
    lines = [f"{label + ':':<{width}}{value}" for label, value in rows]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _info_entry(entry, as_json: bool) -> int:
    import dataclasses

    if as_json:
        print(json.dumps({"registry": dataclasses.asdict(entry), "cached": False}))
        return 0
    rows = [(k, v) for k, v in dataclasses.asdict(entry).items() if v is not None]
    if entry.url is not None and entry.sha256 is None:
        rows.append(("sha256", "none published: pinned on first download (trust on first use)"))
    rows.append(("cached", f"no (livevis models download {entry.name})" if entry.is_generator else "managed by open_clip"))
    width = 2 + max(len(k) for k, _ in rows)
    sys.stdout.write("".join(f"{k + ':':<{width}}{v}\n" for k, v in rows))
    return 0


def _size_of(path, part: str) -> str:
    file = path / f"{part}.safetensors"
    if not file.is_file():
        return "(weights missing)"
    return f"({file.stat().st_size / 1e6:.1f} MB)"
