// app/display.cpp: the participant's screen on SDL2 + OpenGL 3.3 core (+ ImGui for text).
//
// Sections
//   [SECTION] GL            the few GL 2+ entry points, loaded through SDL; the quad and gamma shaders
//   [SECTION] Open          window, context, vsync, ImGui, refresh measurement
//   [SECTION] Flip          swap + glFinish + timestamp, timer pacing
//   [SECTION] Textures      CHW float -> RGBA8
//   [SECTION] Drawing       clear, rectangles, textured quads, text
//   [SECTION] Screenshots   glReadPixels, PNG
//   [SECTION] Input         SDL events -> InputEvent, synthetic events
#include "app/display.h"

#include <SDL.h>
#include <SDL_opengl.h>
#include <backends/imgui_impl_opengl3.h>
#include <backends/imgui_impl_sdl.h>
#include <imgui.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace mm::app {

// [SECTION] GL ----------------------------------------------------------------------------
namespace {

// GL 1.1 comes from libGL; everything newer is looked up at run time.
#define MM_GL_FUNCS(X)                                                   \
  X(PFNGLCREATESHADERPROC, CreateShader)                                 \
  X(PFNGLSHADERSOURCEPROC, ShaderSource)                                 \
  X(PFNGLCOMPILESHADERPROC, CompileShader)                               \
  X(PFNGLGETSHADERIVPROC, GetShaderiv)                                   \
  X(PFNGLGETSHADERINFOLOGPROC, GetShaderInfoLog)                         \
  X(PFNGLDELETESHADERPROC, DeleteShader)                                 \
  X(PFNGLCREATEPROGRAMPROC, CreateProgram)                               \
  X(PFNGLATTACHSHADERPROC, AttachShader)                                 \
  X(PFNGLLINKPROGRAMPROC, LinkProgram)                                   \
  X(PFNGLGETPROGRAMIVPROC, GetProgramiv)                                 \
  X(PFNGLGETPROGRAMINFOLOGPROC, GetProgramInfoLog)                       \
  X(PFNGLDELETEPROGRAMPROC, DeleteProgram)                               \
  X(PFNGLUSEPROGRAMPROC, UseProgram)                                     \
  X(PFNGLGETUNIFORMLOCATIONPROC, GetUniformLocation)                     \
  X(PFNGLUNIFORM4FPROC, Uniform4f)                                       \
  X(PFNGLUNIFORM1IPROC, Uniform1i)                                       \
  X(PFNGLGENVERTEXARRAYSPROC, GenVertexArrays)                           \
  X(PFNGLBINDVERTEXARRAYPROC, BindVertexArray)                           \
  X(PFNGLDELETEVERTEXARRAYSPROC, DeleteVertexArrays)                     \
  X(PFNGLACTIVETEXTUREPROC, ActiveTexture)                               \
  X(PFNGLBLENDFUNCSEPARATEPROC, BlendFuncSeparate)                       \
  X(PFNGLGENFRAMEBUFFERSPROC, GenFramebuffers)                           \
  X(PFNGLBINDFRAMEBUFFERPROC, BindFramebuffer)                           \
  X(PFNGLFRAMEBUFFERTEXTURE2DPROC, FramebufferTexture2D)                 \
  X(PFNGLCHECKFRAMEBUFFERSTATUSPROC, CheckFramebufferStatus)             \
  X(PFNGLDELETEFRAMEBUFFERSPROC, DeleteFramebuffers)

struct GlFuncs {
#define MM_GL_DECL(type, name) type name = nullptr;
  MM_GL_FUNCS(MM_GL_DECL)
#undef MM_GL_DECL
  void load() {
#define MM_GL_LOAD(type, name)                                                       \
  name = reinterpret_cast<type>(SDL_GL_GetProcAddress("gl" #name));                  \
  if (!name) throw std::runtime_error("OpenGL: gl" #name " is missing; the display needs OpenGL 3.3");
    MM_GL_FUNCS(MM_GL_LOAD)
#undef MM_GL_LOAD
  }
};

const char* kVertexShader = R"(#version 330 core
uniform vec4 u_rect;  // left, top, right, bottom in normalized device coordinates
out vec2 v_uv;
void main() {
  vec2 c = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
  v_uv = c;  // v = 0 at the top: the first uploaded row
  gl_Position = vec4(mix(u_rect.x, u_rect.z, c.x), mix(u_rect.y, u_rect.w, c.y), 0.0, 1.0);
}
)";

const char* kFragmentShader = R"(#version 330 core
in vec2 v_uv;
uniform vec4 u_color;
uniform int u_textured;
uniform sampler2D u_tex;
out vec4 o_color;
void main() {
  o_color = u_textured != 0 ? texture(u_tex, v_uv) * u_color : u_color;
}
)";

// The gamma pass: the frame, drawn into an offscreen texture, goes to the window through
// the station's correction table (256 drive levels, one per sRGB-encoded input level,
// linear in between), pixel for pixel.
const char* kPostVertexShader = R"(#version 330 core
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
)";

const char* kPostFragmentShader = R"(#version 330 core
uniform sampler2D u_scene;
uniform sampler2D u_lut;
out vec4 o_color;
float corrected(float c) {
  float x = clamp(c, 0.0, 1.0) * 255.0;
  int i = int(floor(x));
  int j = min(i + 1, 255);
  return mix(texelFetch(u_lut, ivec2(i, 0), 0).r, texelFetch(u_lut, ivec2(j, 0), 0).r, x - float(i));
}
void main() {
  vec4 c = texelFetch(u_scene, ivec2(gl_FragCoord.xy), 0);
  o_color = vec4(corrected(c.r), corrected(c.g), corrected(c.b), 1.0);
}
)";

std::string sdl_error() {
  const char* e = SDL_GetError();
  return e && *e ? e : "unknown SDL error";
}

const ImWchar kGlyphRanges[] = {0x0020, 0x00FF, 0x0100, 0x017F, 0x0370, 0x03FF, 0x2000, 0x206F, 0};

}  // namespace

struct Display::Impl {
  SDL_Window* window = nullptr;
  SDL_GLContext gl = nullptr;
  bool sdl_video = false;
  GlFuncs f;
  GLuint program = 0, vao = 0;
  GLint u_rect = -1, u_color = -1, u_textured = -1, u_tex = -1;
  // The gamma pass (none while fbo == 0): the frame is drawn into scene_tex, then through
  // post_program and lut_tex into the window.
  GLuint fbo = 0, scene_tex = 0, lut_tex = 0, post_program = 0;
  GLint u_scene = -1, u_lut = -1;
  ImGuiContext* imgui = nullptr;
  bool imgui_sdl = false, imgui_gl = false;
  bool ui_frame = false;
  ImFont* fonts[2] = {nullptr, nullptr};  // default size, double size
  float font_px = 28;

  GLuint compile(GLenum type, const char* src) {
    GLuint s = f.CreateShader(type);
    f.ShaderSource(s, 1, &src, nullptr);
    f.CompileShader(s);
    GLint ok = 0;
    f.GetShaderiv(s, GL_COMPILE_STATUS, &ok);
    if (!ok) {
      char log[1024] = {0};
      f.GetShaderInfoLog(s, sizeof log, nullptr, log);
      f.DeleteShader(s);
      throw std::runtime_error(std::string("OpenGL: shader does not compile: ") + log);
    }
    return s;
  }

  GLuint link(const char* vsrc, const char* fsrc) {
    GLuint vs = compile(GL_VERTEX_SHADER, vsrc);
    GLuint fs = compile(GL_FRAGMENT_SHADER, fsrc);
    GLuint p = f.CreateProgram();
    f.AttachShader(p, vs);
    f.AttachShader(p, fs);
    f.LinkProgram(p);
    f.DeleteShader(vs);
    f.DeleteShader(fs);
    GLint ok = 0;
    f.GetProgramiv(p, GL_LINK_STATUS, &ok);
    if (!ok) {
      char log[1024] = {0};
      f.GetProgramInfoLog(p, sizeof log, nullptr, log);
      f.DeleteProgram(p);
      throw std::runtime_error(std::string("OpenGL: shader program does not link: ") + log);
    }
    return p;
  }

  void make_program() {
    program = link(kVertexShader, kFragmentShader);
    u_rect = f.GetUniformLocation(program, "u_rect");
    u_color = f.GetUniformLocation(program, "u_color");
    u_textured = f.GetUniformLocation(program, "u_textured");
    u_tex = f.GetUniformLocation(program, "u_tex");
    f.GenVertexArrays(1, &vao);
  }

  // Draws one quad in pixel coordinates with the current state set by the caller.
  void quad(const Rect& r, int w, int h, Color c, GLuint tex) {
    glViewport(0, 0, w, h);
    glDisable(GL_SCISSOR_TEST);
    glDisable(GL_DEPTH_TEST);
    glDisable(GL_CULL_FACE);
    glEnable(GL_BLEND);
    f.BlendFuncSeparate(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA, GL_ONE, GL_ONE_MINUS_SRC_ALPHA);
    f.UseProgram(program);
    f.BindVertexArray(vao);
    float l = r.x / w * 2 - 1, rr = (r.x + r.w) / w * 2 - 1;
    float t = 1 - r.y / h * 2, b = 1 - (r.y + r.h) / h * 2;
    f.Uniform4f(u_rect, l, t, rr, b);
    f.Uniform4f(u_color, c.r, c.g, c.b, c.a);
    f.Uniform1i(u_textured, tex ? 1 : 0);
    f.Uniform1i(u_tex, 0);
    f.ActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, tex);
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
    glBindTexture(GL_TEXTURE_2D, 0);
    f.BindVertexArray(0);
    f.UseProgram(0);
  }

  // The gamma pass: an offscreen frame of w x h and the 256-entry table (set_gamma_table).
  void make_gamma(int w, int h, const std::vector<float>& table) {
    if (!post_program) {
      post_program = link(kPostVertexShader, kPostFragmentShader);
      u_scene = f.GetUniformLocation(post_program, "u_scene");
      u_lut = f.GetUniformLocation(post_program, "u_lut");
    }
    if (!scene_tex) {
      glGenTextures(1, &scene_tex);
      glBindTexture(GL_TEXTURE_2D, scene_tex);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
      glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
      f.GenFramebuffers(1, &fbo);
      f.BindFramebuffer(GL_FRAMEBUFFER, fbo);
      f.FramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, scene_tex, 0);
      const GLenum st = f.CheckFramebufferStatus(GL_FRAMEBUFFER);
      f.BindFramebuffer(GL_FRAMEBUFFER, 0);
      if (st != GL_FRAMEBUFFER_COMPLETE) {
        drop_gamma();
        throw std::runtime_error("display: the gamma correction needs an offscreen frame, which this OpenGL refuses");
      }
    }
    if (!lut_tex) glGenTextures(1, &lut_tex);
    glBindTexture(GL_TEXTURE_2D, lut_tex);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, 256, 1, 0, GL_RED, GL_FLOAT, table.data());
    glBindTexture(GL_TEXTURE_2D, 0);
    if (glGetError() != GL_NO_ERROR) {
      drop_gamma();
      throw std::runtime_error("display: cannot upload the gamma correction table (OpenGL 3.3 float textures)");
    }
    f.BindFramebuffer(GL_FRAMEBUFFER, fbo);  // everything is drawn into the frame from now on
  }

  void drop_gamma() {
    if (f.BindFramebuffer) f.BindFramebuffer(GL_FRAMEBUFFER, 0);
    if (fbo) f.DeleteFramebuffers(1, &fbo);
    if (scene_tex) glDeleteTextures(1, &scene_tex);
    if (lut_tex) glDeleteTextures(1, &lut_tex);
    fbo = scene_tex = lut_tex = 0;
  }

  // The frame drawn so far, through the table, into the window's back buffer.
  void resolve(int w, int h) {
    if (!fbo) return;
    f.BindFramebuffer(GL_FRAMEBUFFER, 0);
    glViewport(0, 0, w, h);
    glDisable(GL_BLEND);
    glDisable(GL_SCISSOR_TEST);
    f.UseProgram(post_program);
    f.BindVertexArray(vao);
    f.ActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, scene_tex);
    f.Uniform1i(u_scene, 0);
    f.ActiveTexture(GL_TEXTURE1);
    glBindTexture(GL_TEXTURE_2D, lut_tex);
    f.Uniform1i(u_lut, 1);
    glDrawArrays(GL_TRIANGLES, 0, 3);
    glBindTexture(GL_TEXTURE_2D, 0);
    f.ActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, 0);
    f.BindVertexArray(0);
    f.UseProgram(0);
  }

  ImFont* font_for(float px) const {
    if (px <= 0) px = font_px;
    return (px > font_px * 1.25f && fonts[1]) ? fonts[1] : fonts[0];
  }

  void close() {
    if (imgui) {
      ImGui::SetCurrentContext(imgui);
      if (ui_frame) ImGui::EndFrame();
      if (imgui_gl) ImGui_ImplOpenGL3_Shutdown();
      if (imgui_sdl) ImGui_ImplSDL2_Shutdown();
      ImGui::DestroyContext(imgui);
      imgui = nullptr;
    }
    if (gl) {
      drop_gamma();
      if (post_program) f.DeleteProgram(post_program);
      if (vao) f.DeleteVertexArrays(1, &vao);
      if (program) f.DeleteProgram(program);
      SDL_GL_DeleteContext(gl);
      gl = nullptr;
    }
    if (window) SDL_DestroyWindow(window);
    window = nullptr;
    if (sdl_video) SDL_QuitSubSystem(SDL_INIT_VIDEO);
    sdl_video = false;
  }
};

// [SECTION] Open --------------------------------------------------------------------------
Display::Display(const DisplayOptions& opt) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
#ifdef __linux__
  auto set = [](const char* v) { const char* e = std::getenv(v); return e && *e; };
  if (!set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("SDL_VIDEODRIVER"))
    throw NoDisplay("no display: run under a desktop session or xvfb-run");
#endif
  SDL_SetHint(SDL_HINT_VIDEO_MINIMIZE_ON_FOCUS_LOSS, "0");
  if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
    throw NoDisplay("no display: " + sdl_error() + "; run under a desktop session or xvfb-run");
  m.sdl_video = true;
  try {
    info_.video_driver = SDL_GetCurrentVideoDriver() ? SDL_GetCurrentVideoDriver() : "";
    int screens = SDL_GetNumVideoDisplays();
    if (opt.screen < 0 || opt.screen >= screens)
      throw std::runtime_error("display: screen " + std::to_string(opt.screen) + " does not exist (there are " +
                               std::to_string(screens) + ")");
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
    SDL_GL_SetAttribute(SDL_GL_RED_SIZE, 8);
    SDL_GL_SetAttribute(SDL_GL_GREEN_SIZE, 8);
    SDL_GL_SetAttribute(SDL_GL_BLUE_SIZE, 8);
    SDL_GL_SetAttribute(SDL_GL_DEPTH_SIZE, 0);
    SDL_GL_SetAttribute(SDL_GL_STENCIL_SIZE, 0);

    Uint32 flags = SDL_WINDOW_OPENGL | SDL_WINDOW_ALLOW_HIGHDPI;
    int w = opt.width, h = opt.height;
    if (opt.fullscreen) {
      flags |= SDL_WINDOW_FULLSCREEN_DESKTOP | SDL_WINDOW_BORDERLESS;
      SDL_Rect b;
      if (SDL_GetDisplayBounds(opt.screen, &b) == 0) {
        w = b.w;
        h = b.h;
      }
    } else if (w <= 0 || h <= 0) {
      throw std::runtime_error("display: window size " + std::to_string(w) + "x" + std::to_string(h) +
                               " is not a size; give a positive width and height");
    }
    if (!opt.fullscreen && opt.resizable) flags |= SDL_WINDOW_RESIZABLE;
    m.window = SDL_CreateWindow(opt.title.c_str(), SDL_WINDOWPOS_CENTERED_DISPLAY(opt.screen),
                                SDL_WINDOWPOS_CENTERED_DISPLAY(opt.screen), w, h, flags);
    if (!m.window) throw std::runtime_error("display: cannot open a window: " + sdl_error());
    m.gl = SDL_GL_CreateContext(m.window);
    if (!m.gl)
      throw std::runtime_error("display: cannot make an OpenGL 3.3 core context: " + sdl_error() +
                               " (update the graphics driver, or run with Mesa)");
    SDL_GL_MakeCurrent(m.window, m.gl);
    m.f.load();
    m.make_program();
    info_.gl_version = reinterpret_cast<const char*>(glGetString(GL_VERSION));
    info_.gl_renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
    info_.fullscreen = opt.fullscreen;
    SDL_GL_GetDrawableSize(m.window, &info_.width, &info_.height);
    int ww = 0, wh = 0;
    SDL_GetWindowSize(m.window, &ww, &wh);
    scale_ = ww > 0 ? static_cast<float>(info_.width) / ww : 1.0f;

    SDL_DisplayMode mode;
    if (SDL_GetWindowDisplayMode(m.window, &mode) == 0 || SDL_GetCurrentDisplayMode(opt.screen, &mode) == 0)
      info_.nominal_hz = mode.refresh_rate;
    if (opt.vsync) {
      if (SDL_GL_SetSwapInterval(1) == 0) {
        info_.vsync = true;
      } else {
        info_.vsync_note = "vsync refused: " + sdl_error();
      }
    } else {
      SDL_GL_SetSwapInterval(0);
      info_.vsync_note = "vsync not requested";
    }

    // ImGui: text and widgets; no imgui.ini (nothing touches the disk).
    IMGUI_CHECKVERSION();
    m.imgui = ImGui::CreateContext();
    ImGui::SetCurrentContext(m.imgui);
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    io.LogFilename = nullptr;
    ImGui::StyleColorsDark();
    m.font_px = opt.font_px > 0 ? opt.font_px : 28;
    std::string font = opt.font;
    if (font.empty() && std::filesystem::exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
      font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    for (int k = 0; k < 2; ++k) {
      float px = m.font_px * scale_ * (k ? 2.0f : 1.0f);
      if (!font.empty()) {
        if (!std::filesystem::exists(font))
          throw std::runtime_error("display: font " + font + " does not exist; give a TTF file or leave it empty");
        m.fonts[k] = io.Fonts->AddFontFromFileTTF(font.c_str(), px, nullptr, kGlyphRanges);
      } else {
        ImFontConfig cfg;
        cfg.SizePixels = px;
        m.fonts[k] = io.Fonts->AddFontDefault(&cfg);
      }
      if (!m.fonts[k]) throw std::runtime_error("display: cannot load font " + font);
    }
    io.FontGlobalScale = 1.0f / scale_;
    io.Fonts->Build();
    m.imgui_sdl = ImGui_ImplSDL2_InitForOpenGL(m.window, m.gl);
    m.imgui_gl = ImGui_ImplOpenGL3_Init("#version 330 core");
    if (!m.imgui_sdl || !m.imgui_gl) throw std::runtime_error("display: ImGui could not start on SDL2/OpenGL3");
    // One empty ImGui frame now makes its shaders and font texture, so the first text of
    // the session does not cost a frame.
    begin_imgui();
    render_pending_text();

    if (!opt.gamma_table.empty()) set_gamma_table(opt.gamma_table);
    measure_refresh(opt);
  } catch (...) {
    m.close();
    throw;
  }
}

Display::~Display() { impl_->close(); }

void Display::measure_refresh(const DisplayOptions& opt) {
  const int n = std::max(5, opt.measure_frames);
  auto grey_flips = [&](int count, bool pace) {
    std::vector<double> iv;
    double last = 0;
    for (int i = 0; i < count; ++i) {
      clear(Color::grey(0.5f));
      Flip f = raw_flip(pace);
      if (i > 0) iv.push_back((f.t - last) * 1000.0);
      last = f.t;
    }
    return iv;
  };
  grey_flips(5, false);  // warm up the driver
  std::vector<double> unpaced = grey_flips(info_.vsync ? n + 1 : std::min(n, 20) + 1, false);
  double med = median(unpaced);
  double hz = med > 0 ? 1000.0 / med : 0;
  bool effective = info_.vsync && med >= 2.0 && (info_.nominal_hz <= 0 || hz < 1.5 * info_.nominal_hz);
  if (effective) {
    info_.pacing = "vsync";
    info_.measured_hz = hz;
    info_.frame_hz = hz;
    info_.measured_frames = static_cast<int>(unpaced.size());
  } else {
    if (info_.vsync) info_.vsync_note = "vsync accepted but flips are not paced (no vertical blank)";
    info_.pacing = "timer";
    info_.unpaced_hz = hz;
    info_.frame_hz = info_.nominal_hz > 0 ? info_.nominal_hz : opt.fallback_hz;
    if (!(info_.frame_hz > 0)) throw std::runtime_error("display: fallback_hz must be positive");
    next_deadline_ = 0;
    std::vector<double> paced = grey_flips(n + 1, true);
    info_.measured_hz = 1000.0 / median(paced);
    info_.measured_frames = static_cast<int>(paced.size());
  }
  log_.set_period_ms(1000.0 / info_.frame_hz);
  log_.clear();
}

// [SECTION] Flip --------------------------------------------------------------------------
Flip Display::raw_flip(bool pace) {
  render_pending_text();
  if (pace) {
    double period = 1.0 / info_.frame_hz;
    double now = now_s();
    if (next_deadline_ <= 0) next_deadline_ = now;
    // Arriving late: the flip lands on the next grid point, as a missed vblank would.
    if (now > next_deadline_ + 0.0005) next_deadline_ += std::ceil((now - next_deadline_) / period) * period;
    wait_until(next_deadline_);
  }
  impl_->resolve(info_.width, info_.height);
  SDL_GL_SwapWindow(impl_->window);
  if (impl_->fbo) impl_->f.BindFramebuffer(GL_FRAMEBUFFER, impl_->fbo);
  glFinish();
  Flip f;
  f.t = now_s();
  f.index = flips_++;
  if (pace) next_deadline_ += 1.0 / info_.frame_hz;
  return f;
}

Flip Display::flip() {
  Flip f = raw_flip(info_.pacing == "timer");
  f.interval_ms = log_.add(f.t, &f.dropped);
  return f;
}

void Display::reset_frame_log() { log_.clear(); }

// [SECTION] Textures ----------------------------------------------------------------------
Texture Display::upload(const stimuli::Array& a, float lo, float hi) {
  if (a.shape.size() != 3)
    throw std::invalid_argument("display: a texture needs a CHW image array, got " + std::to_string(a.shape.size()) +
                                " dimensions");
  int64_t c = a.shape[0], h = a.shape[1], w = a.shape[2];
  if (c != 1 && c != 3 && c != 4)
    throw std::invalid_argument("display: a texture needs 1, 3 or 4 channels, got " + std::to_string(c));
  if (h <= 0 || w <= 0 || static_cast<int64_t>(a.data.size()) != c * h * w)
    throw std::invalid_argument("display: image array's data does not match its shape");
  if (!(hi > lo)) throw std::invalid_argument("display: value range needs hi > lo");
  std::vector<uint8_t> px(static_cast<size_t>(w * h * 4));
  const float scale = 255.0f / (hi - lo);
  auto q = [&](float v) {
    float x = (v - lo) * scale;
    x = std::isfinite(x) ? std::clamp(x, 0.0f, 255.0f) : 0.0f;
    return static_cast<uint8_t>(std::lround(x));
  };
  const size_t plane = static_cast<size_t>(w * h);
  for (size_t i = 0; i < plane; ++i) {
    uint8_t* p = &px[i * 4];
    if (c == 1) {
      p[0] = p[1] = p[2] = q(a.data[i]);
      p[3] = 255;
    } else {
      for (int k = 0; k < 3; ++k) p[k] = q(a.data[k * plane + i]);
      p[3] = c == 4 ? q(a.data[3 * plane + i]) : 255;
    }
  }
  return upload_rgba8(px.data(), static_cast<int>(w), static_cast<int>(h));
}

Texture Display::upload_rgba8(const uint8_t* rgba, int width, int height) {
  SDL_GL_MakeCurrent(impl_->window, impl_->gl);
  Texture t;
  glGenTextures(1, &t.id);
  if (!t.id) throw std::runtime_error("display: cannot create a texture");
  glBindTexture(GL_TEXTURE_2D, t.id);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  glBindTexture(GL_TEXTURE_2D, 0);
  if (glGetError() != GL_NO_ERROR) {
    glDeleteTextures(1, &t.id);
    throw std::runtime_error("display: cannot upload a " + std::to_string(width) + "x" + std::to_string(height) +
                             " texture (too large for this GPU?)");
  }
  // Make sure the upload is done now, not during the trial's first frame.
  glFinish();
  t.width = width;
  t.height = height;
  return t;
}

void Display::release(Texture& t) {
  if (t.id) glDeleteTextures(1, &t.id);
  t = Texture{};
}

// [SECTION] Drawing -----------------------------------------------------------------------
void Display::clear(Color c) {
  glViewport(0, 0, info_.width, info_.height);
  glDisable(GL_SCISSOR_TEST);
  glClearColor(c.r, c.g, c.b, c.a);
  glClear(GL_COLOR_BUFFER_BIT);
}

void Display::fill_rect(const Rect& r, Color c) { impl_->quad(r, info_.width, info_.height, c, 0); }

void Display::draw_texture(const Texture& t, const Rect& r, Color tint, Filter filter_mode) {
  if (!t.valid()) throw std::invalid_argument("display: drawing a texture that was not uploaded");
  bool exact = std::fabs(r.w - t.width) < 1e-3f && std::fabs(r.h - t.height) < 1e-3f &&
               std::fabs(r.x - std::round(r.x)) < 1e-3f && std::fabs(r.y - std::round(r.y)) < 1e-3f;
  glBindTexture(GL_TEXTURE_2D, t.id);
  GLint filter = filter_mode == Filter::nearest ? GL_NEAREST
                 : filter_mode == Filter::linear ? GL_LINEAR
                 : exact ? GL_NEAREST : GL_LINEAR;
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
  impl_->quad(r, info_.width, info_.height, tint, t.id);
}

void Display::set_gamma_table(const std::vector<float>& table) {
  SDL_GL_MakeCurrent(impl_->window, impl_->gl);
  if (table.empty()) {
    impl_->drop_gamma();
    info_.gamma = "none";
    return;
  }
  if (table.size() != 256) throw std::invalid_argument("display: a gamma table has 256 entries, one per input level");
  for (float v : table)
    if (!(v >= 0 && v <= 1)) throw std::invalid_argument("display: gamma table entries are drive levels from 0 to 1");
  impl_->make_gamma(info_.width, info_.height, table);
  info_.gamma = "shader";
}

Rect Display::centered(float w, float h) const {
  return {std::floor((info_.width - w) / 2), std::floor((info_.height - h) / 2), w, h};
}

void Display::begin_imgui() {
  Impl& m = *impl_;
  if (m.ui_frame) return;
  ImGui::SetCurrentContext(m.imgui);
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplSDL2_NewFrame();
  ImGui::NewFrame();
  m.ui_frame = true;
}

void Display::text(const std::string& s, float x, float y, Color c, float px, float align_x, float align_y) {
  Impl& m = *impl_;
  begin_imgui();
  if (px <= 0) px = m.font_px;
  ImFont* font = m.font_for(px);
  // ImGui works in window points; the atlas was rasterized at pixel size.
  float size = px;
  ImVec2 sz = font->CalcTextSizeA(size, FLT_MAX, 0, s.c_str());
  ImVec2 pos(std::round(x - sz.x * align_x) / scale_, std::round(y - sz.y * align_y) / scale_);
  ImU32 col = IM_COL32(static_cast<int>(std::lround(std::clamp(c.r, 0.f, 1.f) * 255)),
                       static_cast<int>(std::lround(std::clamp(c.g, 0.f, 1.f) * 255)),
                       static_cast<int>(std::lround(std::clamp(c.b, 0.f, 1.f) * 255)),
                       static_cast<int>(std::lround(std::clamp(c.a, 0.f, 1.f) * 255)));
  ImGui::GetForegroundDrawList()->AddText(font, size / scale_, pos, col, s.c_str());
}

std::pair<float, float> Display::text_size(const std::string& s, float px) {
  Impl& m = *impl_;
  if (px <= 0) px = m.font_px;
  ImVec2 sz = m.font_for(px)->CalcTextSizeA(px, FLT_MAX, 0, s.c_str());
  return {sz.x, sz.y};
}

void Display::render_pending_text() {
  Impl& m = *impl_;
  if (!m.ui_frame) return;
  ImGui::SetCurrentContext(m.imgui);
  ImGui::Render();
  glViewport(0, 0, info_.width, info_.height);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  m.ui_frame = false;
}

// [SECTION] Screenshots -------------------------------------------------------------------
Image Display::capture() {
  render_pending_text();
  Image img;
  img.width = info_.width;
  img.height = info_.height;
  std::vector<uint8_t> raw(static_cast<size_t>(img.width) * img.height * 3);
  impl_->resolve(img.width, img.height);  // what the screen will show (gamma pass included)
  glFinish();
  glReadBuffer(GL_BACK);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glPixelStorei(GL_PACK_ROW_LENGTH, 0);
  glReadPixels(0, 0, img.width, img.height, GL_RGB, GL_UNSIGNED_BYTE, raw.data());
  img.rgb.resize(raw.size());
  const size_t row = static_cast<size_t>(img.width) * 3;
  for (int y = 0; y < img.height; ++y)  // GL rows run bottom to top
    std::memcpy(&img.rgb[y * row], &raw[(img.height - 1 - y) * row], row);
  if (impl_->fbo) impl_->f.BindFramebuffer(GL_FRAMEBUFFER, impl_->fbo);
  return img;
}

void save_png(const std::string& path, const Image& img) {
  if (img.width <= 0 || img.height <= 0) throw std::invalid_argument("screenshot " + path + ": empty image");
  if (!stbi_write_png(path.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3))
    throw std::runtime_error(path + ": cannot write the screenshot; check the folder exists and is writable");
}

// [SECTION] Input -------------------------------------------------------------------------
std::vector<InputEvent> Display::poll_events() {
  std::vector<InputEvent> out;
  SDL_Event e;
  ImGui::SetCurrentContext(impl_->imgui);
  while (SDL_PollEvent(&e)) {
    ImGui_ImplSDL2_ProcessEvent(&e);
    InputEvent ev;
    ev.t = now_s();
    ev.sdl_ms = e.common.timestamp;
    switch (e.type) {
      case SDL_KEYDOWN:
        ev.type = InputEvent::key_down;
        ev.key = SDL_GetKeyName(e.key.keysym.sym);
        ev.ctrl = (e.key.keysym.mod & KMOD_CTRL) != 0;
        ev.shift = (e.key.keysym.mod & KMOD_SHIFT) != 0;
        ev.alt = (e.key.keysym.mod & KMOD_ALT) != 0;
        ev.repeat = e.key.repeat != 0;
        break;
      case SDL_TEXTINPUT:
        ev.type = InputEvent::text_input;
        ev.text = e.text.text;
        break;
      case SDL_MOUSEBUTTONDOWN:
      case SDL_MOUSEBUTTONUP:
        ev.type = e.type == SDL_MOUSEBUTTONDOWN ? InputEvent::mouse_down : InputEvent::mouse_up;
        ev.x = e.button.x * scale_;
        ev.y = e.button.y * scale_;
        ev.button = e.button.button;
        break;
      case SDL_MOUSEMOTION:
        ev.type = InputEvent::mouse_move;
        ev.x = e.motion.x * scale_;
        ev.y = e.motion.y * scale_;
        break;
      case SDL_QUIT:
        ev.type = InputEvent::quit;
        break;
      case SDL_WINDOWEVENT:
        if (e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) resized();
        if (e.window.event != SDL_WINDOWEVENT_FOCUS_LOST) continue;
        ev.type = InputEvent::focus_lost;
        break;
      default:
        continue;
    }
    out.push_back(std::move(ev));
  }
  return out;
}

std::pair<int, int> Display::window_size() const {
  int w = 0, h = 0;
  SDL_GetWindowSize(impl_->window, &w, &h);
  return {w, h};
}

void Display::set_window_size(int w, int h) {
  if (w > 0 && h > 0) SDL_SetWindowSize(impl_->window, w, h);
}

void Display::resized() {
  Impl& m = *impl_;
  SDL_GL_GetDrawableSize(m.window, &info_.width, &info_.height);
  int ww = 0, wh = 0;
  SDL_GetWindowSize(m.window, &ww, &wh);
  scale_ = ww > 0 ? static_cast<float>(info_.width) / ww : 1.0f;
  if (m.scene_tex) {  // the gamma pass's offscreen frame follows the window
    glBindTexture(GL_TEXTURE_2D, m.scene_tex);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, info_.width, info_.height, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    glBindTexture(GL_TEXTURE_2D, 0);
  }
}

void Display::show_cursor(bool on) {
  SDL_ShowCursor(on ? SDL_ENABLE : SDL_DISABLE);
  // Otherwise ImGui's SDL backend shows the cursor again on its next frame.
  ImGui::SetCurrentContext(impl_->imgui);
  if (on) ImGui::GetIO().ConfigFlags &= ~ImGuiConfigFlags_NoMouseCursorChange;
  else ImGui::GetIO().ConfigFlags |= ImGuiConfigFlags_NoMouseCursorChange;
}

void Display::push_key(const std::string& key_name, bool ctrl, bool shift) {
  SDL_Keycode k = SDL_GetKeyFromName(key_name.c_str());
  if (k == SDLK_UNKNOWN) throw std::invalid_argument("display: unknown key name \"" + key_name + "\"");
  for (Uint32 type : {static_cast<Uint32>(SDL_KEYDOWN), static_cast<Uint32>(SDL_KEYUP)}) {
    SDL_Event e;
    std::memset(&e, 0, sizeof e);
    e.type = type;
    e.key.windowID = SDL_GetWindowID(impl_->window);
    e.key.state = type == SDL_KEYDOWN ? SDL_PRESSED : SDL_RELEASED;
    e.key.keysym.sym = k;
    e.key.keysym.scancode = SDL_GetScancodeFromKey(k);
    e.key.keysym.mod = static_cast<Uint16>((ctrl ? KMOD_LCTRL : 0) | (shift ? KMOD_LSHIFT : 0));
    SDL_PushEvent(&e);
  }
}

void Display::push_click(float x, float y, int button) {
  Uint32 id = SDL_GetWindowID(impl_->window);
  int wx = static_cast<int>(std::lround(x / scale_)), wy = static_cast<int>(std::lround(y / scale_));
  SDL_Event e;
  std::memset(&e, 0, sizeof e);
  e.type = SDL_MOUSEMOTION;
  e.motion.windowID = id;
  e.motion.x = wx;
  e.motion.y = wy;
  SDL_PushEvent(&e);
  for (Uint32 type : {static_cast<Uint32>(SDL_MOUSEBUTTONDOWN), static_cast<Uint32>(SDL_MOUSEBUTTONUP)}) {
    std::memset(&e, 0, sizeof e);
    e.type = type;
    e.button.windowID = id;
    e.button.button = static_cast<Uint8>(button);
    e.button.state = type == SDL_MOUSEBUTTONDOWN ? SDL_PRESSED : SDL_RELEASED;
    e.button.clicks = 1;
    e.button.x = wx;
    e.button.y = wy;
    SDL_PushEvent(&e);
  }
}

void Display::move_pointer(float x, float y) {
  SDL_WarpMouseInWindow(impl_->window, static_cast<int>(std::lround(x / scale_)), static_cast<int>(std::lround(y / scale_)));
}

void Display::push_text(const std::string& utf8) {
  SDL_Event e;
  std::memset(&e, 0, sizeof e);
  e.type = SDL_TEXTINPUT;
  e.text.windowID = SDL_GetWindowID(impl_->window);
  if (utf8.size() >= sizeof e.text.text) throw std::invalid_argument("display: synthetic text is too long");
  std::memcpy(e.text.text, utf8.data(), utf8.size());
  SDL_PushEvent(&e);
}

void Display::push_wheel(float dy) {
  SDL_Event e;
  std::memset(&e, 0, sizeof e);
  e.type = SDL_MOUSEWHEEL;
  e.wheel.windowID = SDL_GetWindowID(impl_->window);
  e.wheel.y = static_cast<Sint32>(std::lround(dy));
  e.wheel.direction = SDL_MOUSEWHEEL_NORMAL;
  SDL_PushEvent(&e);
}

std::string display_provenance_json(const DisplayInfo& di) {
  return nlohmann::json{{"driver", di.video_driver}, {"gl_renderer", di.gl_renderer}, {"gl_version", di.gl_version},
                        {"width", di.width}, {"height", di.height}, {"fullscreen", di.fullscreen},
                        {"vsync", di.vsync}, {"pacing", di.pacing}, {"nominal_hz", di.nominal_hz},
                        {"measured_hz", di.measured_hz}, {"frame_hz", di.frame_hz}, {"gamma", di.gamma}}
      .dump();
}

}  // namespace mm::app
