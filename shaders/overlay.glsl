// Stats overlay text: one instanced quad per character, glyphs from a bitmap-font atlas
// (rasterised once with PIL). Positions are in pixels from the top-left of the viewport.
#shader vertex
in vec2 in_pos;      // top-left corner of the character cell, pixels
in float in_glyph;   // cell index in the atlas grid (row-major, row 0 at the top)
uniform vec2 u_viewport;  // pixels
uniform vec2 u_cell;      // drawn cell size, pixels
uniform vec2 u_grid;      // atlas columns, rows
out vec2 v_uv;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
    vec2 px = in_pos + corner * u_cell;
    gl_Position = vec4(px.x / u_viewport.x * 2.0 - 1.0, 1.0 - px.y / u_viewport.y * 2.0, 0.0, 1.0);
    vec2 cell = vec2(mod(in_glyph, u_grid.x), floor(in_glyph / u_grid.x));
    v_uv = (cell + corner) / u_grid;  // atlas uploaded top row first: t = 0 is its top
}

#shader fragment
uniform sampler2D u_atlas;  // single channel coverage
uniform vec4 u_color;
uniform vec4 u_background;
in vec2 v_uv;
out vec4 f_color;

void main() {
    f_color = mix(u_background, u_color, texture(u_atlas, v_uv).r);
}
