"""GLSL programs loaded by name from the package data dir `livevis.shaders` (repo folder shaders/).

File convention: one program per file `<name>.glsl`:

    // text here (after an optional #version line) is shared by every stage
    #include "fullscreen.glsl"        // recursive; each file once per stage (include guard)
    #shader vertex
    ...
    #shader fragment
    ...

`#version 330 core` is used when the file names none. Defines are injected right after #version.
`#line` directives keep the driver's line numbers pointing at the right file: source string 0 is the
program file, 1.. are includes in order of first use (listed in compile errors).
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import moderngl

from livevis.errors import LivevisError

_STAGES = ("vertex", "geometry", "fragment")
_DEFAULT_VERSION = "#version 330 core"
_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$')
_SHADER = re.compile(r"^\s*#shader\s+(\w+)\s*$")
_VERSION = re.compile(r"^\s*#version\b")
_MAX_INCLUDE_DEPTH = 16


def shader_dir() -> Path:
    """Folder holding the packaged `.glsl` files."""
    return Path(str(importlib.resources.files("livevis.shaders")))


def known_programs(directory: Path | None = None) -> list[str]:
    """Names of the programs (files with a `#shader` section) in `directory`."""
    directory = directory or shader_dir()
    names = []
    for path in sorted(directory.glob("*.glsl")):
        if any(_SHADER.match(line) for line in path.read_text(encoding="utf-8").splitlines()):
            names.append(path.stem)
    return names


class _Assembler:
    """Expands includes for one stage, tracking every file read (for hot reload)."""

    def __init__(self, directory: Path, program: str) -> None:
        self.directory = directory
        self.program = program
        self.sources: list[str] = [f"{program}.glsl"]  # source-string number -> file name
        self.files: set[Path] = set()

    def read(self, name: str) -> list[str]:
        path = self.directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LivevisError(f"shader program '{self.program}': include \"{name}\" not found in {self.directory}") from None
        self.files.add(path)
        return text.splitlines()

    def expand(self, lines: list[str], source: int, seen: set[str], stack: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for number, line in enumerate(lines, start=1):
            match = _INCLUDE.match(line)
            if not match:
                out.append(line)
                continue
            name = match.group(1)
            if name in stack:
                raise LivevisError(f"shader program '{self.program}': include cycle {' -> '.join(stack + (name,))}")
            if len(stack) >= _MAX_INCLUDE_DEPTH:
                raise LivevisError(f"shader program '{self.program}': includes nested deeper than {_MAX_INCLUDE_DEPTH}")
            if name in seen:  # include guard: once per stage
                out.append(f"// (already included: {name})")
                continue
            seen.add(name)
            if name not in self.sources:
                self.sources.append(name)
            index = self.sources.index(name)
            out.append(f"#line 1 {index}")
            out.extend(self.expand(self.read(name), index, seen, stack + (name,)))
            out.append(f"#line {number + 1} {source}")
        return out


def _split_stages(lines: list[str], program: str) -> tuple[str | None, list[str], dict[str, tuple[int, list[str]]]]:
    """-> (#version line or None, shared lines, {stage: (first line number, lines)})."""
    version = None
    shared: list[str] = []
    stages: dict[str, tuple[int, list[str]]] = {}
    current: list[str] = shared
    for number, line in enumerate(lines, start=1):
        if _VERSION.match(line) and not stages:
            version = line.strip()
            shared.append("")  # keep line numbers
            continue
        match = _SHADER.match(line)
        if match:
            stage = match.group(1).lower()
            if stage not in _STAGES:
                raise LivevisError(f"shader program '{program}': unknown stage '#shader {stage}' (known: {', '.join(_STAGES)})")
            if stage in stages:
                raise LivevisError(f"shader program '{program}': stage '{stage}' appears twice")
            current = []
            stages[stage] = (number + 1, current)
            continue
        current.append(line)
    return version, shared, stages


def assemble(name: str, defines: dict | None = None, directory: Path | None = None) -> tuple[dict[str, str], list[str], set[Path]]:
    """Preprocess program `name` -> ({stage: GLSL source}, source-string names, files read)."""
    directory = Path(directory) if directory else shader_dir()
    path = directory / f"{name}.glsl"
    known = known_programs(directory)
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name) or not path.is_file() or name not in known:
        raise LivevisError(f"no shader program '{name}' (known: {', '.join(known) or 'none'})")
    asm = _Assembler(directory, name)
    lines = asm.read(f"{name}.glsl")
    version, shared, stages = _split_stages(lines, name)
    if "vertex" not in stages or "fragment" not in stages:
        raise LivevisError(f"shader program '{name}': needs '#shader vertex' and '#shader fragment' sections")
    header = [version or _DEFAULT_VERSION]
    for key, value in (defines or {}).items():
        if not re.fullmatch(r"[A-Za-z_]\w*", str(key)):
            raise LivevisError(f"shader program '{name}': bad define name {key!r}")
        header.append(f"#define {key} {_define_value(value)}".rstrip())
    sources: dict[str, str] = {}
    for stage, (first_line, body) in stages.items():
        seen: set[str] = set()
        text = header + [f"#define STAGE_{stage.upper()} 1", "#line 1 0"]
        text += asm.expand(shared, 0, seen, (f"{name}.glsl",))
        text.append(f"#line {first_line} 0")
        text += asm.expand(body, 0, seen, (f"{name}.glsl",))
        sources[stage] = "\n".join(text) + "\n"
    return sources, asm.sources, asm.files


def _define_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value) if "." in repr(value) or "e" in repr(value) else f"{value}.0"
    return "" if value is None else str(value)


def _compile(ctx: moderngl.Context, name: str, sources: dict[str, str], names: list[str]) -> moderngl.Program:
    try:
        return ctx.program(
            vertex_shader=sources["vertex"],
            geometry_shader=sources.get("geometry"),
            fragment_shader=sources["fragment"],
        )
    except moderngl.Error as exc:
        message = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip() and set(line.strip()) != {"="})
        legend = ", ".join(f"{i}={n}" for i, n in enumerate(names))
        raise LivevisError(f"shader program '{name}' failed to compile: {message} (sources: {legend})") from None


def load_program(ctx: moderngl.Context, name: str, defines: dict | None = None, directory: Path | None = None) -> moderngl.Program:
    """Compile program `name` (file `<name>.glsl`) with `defines` injected after #version."""
    sources, names, _ = assemble(name, defines, directory)
    return _compile(ctx, name, sources, names)


def set_uniform(program: moderngl.Program, name: str, value) -> None:
    """Set a uniform if the program uses it (compilers drop unused ones, e.g. during a hot-reload edit)."""
    uniform = program.get(name, None)
    if uniform is not None:
        uniform.value = value


class ShaderLibrary:
    """Compiled programs by (name, defines), with optional hot reload when a source file changes.

    A program that fails to recompile during hot reload keeps the last good one (the show goes on);
    the error is kept in `last_error`.
    """

    def __init__(self, ctx: moderngl.Context, directory: Path | None = None, hot_reload: bool = False) -> None:
        self.ctx = ctx
        self.directory = Path(directory) if directory else shader_dir()
        self.hot_reload = hot_reload
        self.last_error: str | None = None
        self._programs: dict[tuple, tuple[moderngl.Program, dict[Path, float]]] = {}

    def get(self, name: str, defines: dict | None = None) -> moderngl.Program:
        key = (name, tuple(sorted((defines or {}).items())))
        entry = self._programs.get(key)
        if entry is None:
            entry = self._build(name, defines)
            self._programs[key] = entry
        return entry[0]

    def _build(self, name: str, defines: dict | None) -> tuple[moderngl.Program, dict[Path, float]]:
        sources, names, files = assemble(name, defines, self.directory)
        program = _compile(self.ctx, name, sources, names)
        return program, {f: f.stat().st_mtime for f in files}

    def reload_changed(self) -> list[str]:
        """Recompile programs whose files changed since they were built; returns the names reloaded."""
        if not self.hot_reload:
            return []
        reloaded = []
        for key, (program, mtimes) in list(self._programs.items()):
            if all(_mtime(f) == t for f, t in mtimes.items()):
                continue
            name, defines = key[0], dict(key[1])
            try:
                self._programs[key] = self._build(name, defines)
            except LivevisError as exc:
                self.last_error = str(exc)
                # Don't retry a broken file every frame: remember its current mtimes.
                self._programs[key] = (program, {f: _mtime(f) for f in mtimes})
                continue
            program.release()
            self.last_error = None
            reloaded.append(name)
        return reloaded

    def release(self) -> None:
        for program, _ in self._programs.values():
            program.release()
        self._programs.clear()


class QuadPrograms:
    """Programs from a ShaderLibrary, each with the attribute-less vertex array that draws its
    full-screen quad; a hot reload that swapped a program gets a new vertex array."""

    def __init__(self, ctx: moderngl.Context, shaders: "ShaderLibrary"):
        self.ctx, self.shaders = ctx, shaders
        self._vaos: dict[tuple, tuple[moderngl.Program, moderngl.VertexArray]] = {}

    def get(self, name: str, defines: dict | None = None) -> tuple[moderngl.Program, moderngl.VertexArray]:
        program = self.shaders.get(name, defines)
        key = (name, tuple(sorted((defines or {}).items())))
        cached = self._vaos.get(key)
        if cached is None or cached[0] is not program:  # first use, or hot reload swapped it
            if cached is not None:
                cached[1].release()
            cached = (program, self.ctx.vertex_array(program, []))
            self._vaos[key] = cached
        return cached

    def release(self) -> None:
        for _, vao in self._vaos.values():
            vao.release()
        self._vaos.clear()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0
