// Include: a quad drawn from gl_VertexID alone (4 vertices, TRIANGLE_STRIP, no vertex buffers).
// v_uv runs 0..1 left-to-right and bottom-to-top (GL convention).
#ifdef STAGE_VERTEX
out vec2 v_uv;

// scale: fraction of the viewport the quad covers on each axis, centred (1, 1 = full viewport).
void quad_vertex(vec2 scale) {
    vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));  // (0,0) (1,0) (0,1) (1,1)
    v_uv = corner;
    gl_Position = vec4((corner * 2.0 - 1.0) * scale, 0.0, 1.0);
}
#else
in vec2 v_uv;
#endif
