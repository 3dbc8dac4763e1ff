// Aspect-preserving letterbox blit: the image fills the largest centred rectangle of its aspect
// ratio; the caller clears the rest (bars) to black. Also used 1:1 (u_scale = 1) for plain copies.
#include "quad.glsl"
#include "frame_sample.glsl"

#shader vertex
uniform vec2 u_scale;  // content size / viewport size, each <= 1

void main() {
    quad_vertex(u_scale);
}

#shader fragment
uniform sampler2D u_image;
uniform bool u_flip_y;  // true when u_image is a raw uploaded frame (top row first)
uniform float u_gain = 1.0;  // master brightness (0: blackout)
out vec4 f_color;

void main() {
    vec3 rgb = u_flip_y ? frame_rgb(u_image, v_uv) : texture(u_image, v_uv).rgb;
    f_color = vec4(rgb * u_gain, 1.0);
}
