// Audio-reactive post effect, run at frame resolution before the letterbox blit.
//   onset (0..1, a decaying envelope after each detected onset): zoom pulse, RGB split, flash.
//   level (0..1, input loudness): strength of the feedback trails (previous output, slowly rotating).
// With level = onset = 0 the output is the frame itself.
#include "quad.glsl"
#include "frame_sample.glsl"

#ifndef PULSE_ZOOM
#define PULSE_ZOOM 0.12
#endif
#ifndef RGB_SPLIT
#define RGB_SPLIT 0.06
#endif
#ifndef FLASH
#define FLASH 0.35
#endif
#ifndef TRAIL_MAX
#define TRAIL_MAX 0.85
#endif

#shader vertex
void main() {
    quad_vertex(vec2(1.0));
}

#shader fragment
uniform sampler2D u_frame;  // newest uploaded frame (top row first)
uniform sampler2D u_prev;   // this effect's previous output (GL convention)
uniform float u_level;
uniform float u_onset;
uniform float u_time;       // seconds
uniform float u_gain = 1.0; // master brightness (0: blackout, trails included)
out vec4 f_color;

void main() {
    float onset = clamp(u_onset, 0.0, 1.0);
    float level = clamp(u_level, 0.0, 1.0);
    vec2 c = v_uv - 0.5;
    vec2 uv = 0.5 + c / (1.0 + PULSE_ZOOM * onset);
    vec2 split = c * (RGB_SPLIT * onset);
    vec3 cur = vec3(frame_rgb(u_frame, uv + split).r, frame_rgb(u_frame, uv).g, frame_rgb(u_frame, uv - split).b);
    cur *= 1.0 + FLASH * onset;

    float angle = 0.01 * sin(0.5 * u_time);
    mat2 rot = mat2(cos(angle), sin(angle), -sin(angle), cos(angle));
    vec3 prev = texture(u_prev, 0.5 + rot * c * 0.985).rgb;
    vec3 trails = prev * (TRAIL_MAX * level);
    f_color = vec4(max(cur * u_gain, trails * min(u_gain, 1.0)), 1.0);
}
