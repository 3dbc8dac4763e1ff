// Bilinear resample of a source rectangle (uv crop) onto the whole viewport: the output stage's
// `--upscaler none` path and its fit modes (the viewport is the fitted rectangle).
#include "quad.glsl"

#shader vertex
void main() {
    quad_vertex(vec2(1.0));
}

#shader fragment
uniform sampler2D u_src;
uniform vec4 u_crop;   // (u0, v0, u span, v span) of the source, GL convention
out vec4 f_color;

void main() {
    f_color = vec4(texture(u_src, u_crop.xy + v_uv * u_crop.zw).rgb, 1.0);
}
