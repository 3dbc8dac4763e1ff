// One separable pass of a Lanczos-3 resampler (run twice: horizontal, then vertical).
// The kernel weights are precomputed per output row/column on the CPU (livevis.render.output_stage
// .lanczos_weights; sin() per tap per pixel is what makes a naive version slow on software GL):
// u_weights texel (0, i) holds the first source index of output pixel i, texels (1 + g, i) the
// normalised weights of taps 4g .. 4g+3; TAPS (a define, one program per tap count) unrolls the loop. Source texels are fetched exactly (texelFetch, edge
// clamped), so a constant image stays constant. The other axis is copied 1:1.
#include "quad.glsl"

#shader vertex
void main() {
    quad_vertex(vec2(1.0));
}

#shader fragment
uniform sampler2D u_src;
uniform sampler2D u_weights;  // RGBA32F [dst_len rows, 1 + ceil(TAPS / 4) columns]
uniform ivec2 u_dir;          // (1, 0): horizontal pass, (0, 1): vertical pass
uniform ivec2 u_origin;       // viewport origin in the framebuffer (pixels)
out vec4 f_color;

#ifndef TAPS
#define TAPS 6
#endif

void main() {
    ivec2 size = textureSize(u_src, 0);
    ivec2 px = ivec2(gl_FragCoord.xy) - u_origin;
    bool horizontal = u_dir.x == 1;
    int i = horizontal ? px.x : px.y;
    int other = horizontal ? px.y : px.x;
    int limit = (horizontal ? size.x : size.y) - 1;
    int first = int(texelFetch(u_weights, ivec2(0, i), 0).r);
    vec3 sum = vec3(0.0);
    vec4 w = vec4(0.0);
    for (int k = 0; k < TAPS; ++k) {  // TAPS is a compile-time constant: the loop unrolls
        if (k % 4 == 0) w = texelFetch(u_weights, ivec2(1 + k / 4, i), 0);
        int j = clamp(first + k, 0, limit);
        sum += w[k % 4] * texelFetch(u_src, horizontal ? ivec2(j, other) : ivec2(other, j), 0).rgb;
    }
    f_color = vec4(sum, 1.0);
}
