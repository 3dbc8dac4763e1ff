"""GLSL programs, one per file, loaded by name through livevis.render.shaders (package data)."""
