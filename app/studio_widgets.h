// app/studio_widgets.h: what the workbench's panels (app/studio*.cpp) share: the palette, a
// widget's rectangle in drawable pixels (for the tests' probe), a texture's ImGui id, number
// formatting, and a message's first line.
#pragma once
#include <imgui.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "app/display.h"

namespace mm::app::studio {

inline const ImVec4 kGreen(0.45f, 0.88f, 0.45f, 1.0f);   // passed, above the null, written
inline const ImVec4 kRed(1.0f, 0.36f, 0.36f, 1.0f);      // failed, what went wrong
inline const ImVec4 kYellow(0.95f, 0.82f, 0.35f, 1.0f);  // waiting, not built yet
inline const ImVec4 kDim(0.7f, 0.7f, 0.7f, 1.0f);        // explanations
inline const ImVec4 kWhite(1.0f, 1.0f, 1.0f, 1.0f);

// ImGui points [a, b] as a Rect in drawable pixels (k pixels per point).
inline Rect to_rect(ImVec2 a, ImVec2 b, float k) { return {a.x * k, a.y * k, (b.x - a.x) * k, (b.y - a.y) * k}; }
// The last widget drawn, in drawable pixels.
inline Rect item_rect(float k) { return to_rect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), k); }

// v through printf format f ("-" when v is not finite).
inline std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// A texture uploaded by Display, as ImGui draws it.
inline ImTextureID tex_id(const Texture& t) { return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(t.id)); }

inline std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace mm::app::studio
