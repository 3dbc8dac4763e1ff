// Include: sampling the uploaded frame texture. Frames arrive top row first, so texture row 0 is the
// top of the image: flip v to put it right way up in GL's bottom-up convention.
vec3 frame_rgb(sampler2D frame, vec2 uv) {
    return texture(frame, vec2(uv.x, 1.0 - uv.y)).rgb;
}
