import os

import moderngl
import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.render.shaders import ShaderLibrary, assemble, known_programs, load_program
from tests.rigs.display import egl_ctx  # noqa: F401  (fixture)

SOLID = """\
#include "colour.glsl"
#shader vertex
void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
#shader fragment
out vec4 f_color;
void main() { f_color = vec4(COLOUR, 1.0); }
"""


def _draw_solid(ctx, program) -> np.ndarray:
    fbo = ctx.simple_framebuffer((4, 4), components=4)
    fbo.use()
    ctx.vertex_array(program, []).render(moderngl.TRIANGLE_STRIP, vertices=4)
    pixel = np.frombuffer(fbo.read(components=3), dtype=np.uint8)[:3]
    fbo.release()
    return pixel


def test_packaged_programs_compile(egl_ctx):
    names = known_programs()
    assert {"blit", "post", "overlay"} <= set(names)
    assert "quad" not in names  # include files are not programs
    for name in names:
        assert isinstance(load_program(egl_ctx, name), moderngl.Program)


def test_unknown_name_lists_known_programs(egl_ctx):
    with pytest.raises(LivevisError) as err:
        load_program(egl_ctx, "nope")
    message = str(err.value)
    assert message.startswith("no shader program 'nope' (known: ")
    assert "blit" in message and "post" in message and "overlay" in message
    with pytest.raises(LivevisError, match="no shader program 'quad'"):
        load_program(egl_ctx, "quad")  # an include, not a program


def test_includes_are_recursive_guarded_and_defines_injected(egl_ctx, tmp_path):
    (tmp_path / "colour.glsl").write_text('#include "base.glsl"\n#include "base.glsl"\n#ifndef COLOUR\n#define COLOUR BASE\n#endif\n')
    (tmp_path / "base.glsl").write_text("#define BASE vec3(0.0, 1.0, 0.0)\n")
    (tmp_path / "solid.glsl").write_text('#include "base.glsl"\n' + SOLID)
    sources, names, files = assemble("solid", directory=tmp_path)
    assert names == ["solid.glsl", "base.glsl", "colour.glsl"]
    assert sources["fragment"].count("#define BASE") == 1  # include guard: once per stage
    assert sources["vertex"].startswith("#version 330 core\n")
    assert {p.name for p in files} == {"solid.glsl", "base.glsl", "colour.glsl"}
    assert list(_draw_solid(egl_ctx, load_program(egl_ctx, "solid", directory=tmp_path))) == [0, 255, 0]
    red = load_program(egl_ctx, "solid", {"COLOUR": "vec3(1.0, 0.0, 0.0)"}, directory=tmp_path)
    assert list(_draw_solid(egl_ctx, red)) == [255, 0, 0]


def test_include_cycle_and_missing_include(tmp_path):
    (tmp_path / "a.glsl").write_text('#include "b.glsl"\n')
    (tmp_path / "b.glsl").write_text('#include "a.glsl"\n')
    (tmp_path / "p.glsl").write_text('#include "a.glsl"\n#shader vertex\nvoid main(){}\n#shader fragment\nvoid main(){}\n')
    with pytest.raises(LivevisError, match="include cycle"):
        assemble("p", directory=tmp_path)
    (tmp_path / "q.glsl").write_text('#include "gone.glsl"\n#shader vertex\nvoid main(){}\n#shader fragment\nvoid main(){}\n')
    with pytest.raises(LivevisError, match='include "gone.glsl" not found'):
        assemble("q", directory=tmp_path)


def test_compile_error_names_program_and_driver_message(egl_ctx, tmp_path):
    (tmp_path / "colour.glsl").write_text("// nothing\n")
    (tmp_path / "broken.glsl").write_text(SOLID.replace("f_color = vec4(COLOUR, 1.0);", "f_color = vec4(undeclared_thing, 1.0);"))
    with pytest.raises(LivevisError) as err:
        load_program(egl_ctx, "broken", directory=tmp_path)
    message = str(err.value)
    assert "shader program 'broken' failed to compile" in message
    assert "undeclared_thing" in message  # the driver's own message
    assert "\n" not in message  # one line for the CLI
    assert "0=broken.glsl" in message and "1=colour.glsl" in message


def test_hot_reload_swaps_program_and_survives_broken_edit(egl_ctx, tmp_path):
    (tmp_path / "colour.glsl").write_text("#define COLOUR vec3(0.0, 0.0, 1.0)\n")
    (tmp_path / "solid.glsl").write_text(SOLID)
    library = ShaderLibrary(egl_ctx, directory=tmp_path, hot_reload=True)
    first = library.get("solid")
    assert list(_draw_solid(egl_ctx, first)) == [0, 0, 255]
    assert library.reload_changed() == []
    _touch_later(tmp_path / "colour.glsl", "#define COLOUR vec3(1.0, 1.0, 0.0)\n")
    assert library.reload_changed() == ["solid"]
    assert list(_draw_solid(egl_ctx, library.get("solid"))) == [255, 255, 0]
    _touch_later(tmp_path / "colour.glsl", "#define COLOUR oops(\n")
    assert library.reload_changed() == []
    assert "failed to compile" in library.last_error
    assert list(_draw_solid(egl_ctx, library.get("solid"))) == [255, 255, 0]  # last good program kept


def _touch_later(path, text):
    before = path.stat().st_mtime
    path.write_text(text)
    if path.stat().st_mtime == before:  # coarse file-system clocks
        os.utime(path, (before + 1, before + 1))
