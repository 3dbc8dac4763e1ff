"""The display side of the live path (owns GL; runs on the render thread).

frame.Frame            the unit handed over by the inference thread (RGBA8 + audio index + stats)
mailbox.Mailbox        newest-only hand-over (latest request wins, drops counted)
shaders.load_program   GLSL programs by name from shaders/ (includes, defines, hot reload)
renderer.Renderer      upload (PBO / CUDA-GL) -> post effect -> output stage -> letterbox blit -> overlay; read_pixels
output_stage.OutputStage  upscale (lanczos / bilinear in GL) and fit to the output size; upscale: the learned upscaler
sinks.SinkGroup        program frames to v4l2 / NDI / Syphon / Spout / file outputs, never blocking
window.Window          glfw window target; offscreen.Offscreen: EGL target
recorder.Recorder      H.264 + AAC mp4, atomic, finalised on every exit path
display_loop.DisplayLoop  paces, presents, records, measures; `step` for offline rendering
"""
