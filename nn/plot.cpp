// plot_history: panels of training/validation curves drawn with cairo, written atomically.
#include "tapegrad/nn/plot.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <map>
#include <vector>

#include "tapegrad/core/error.hpp"
#include "tapegrad/nn/saving.hpp"

namespace tg::nn {

namespace {
struct Rgb {
  double r, g, b;
};
constexpr Rgb kTrain{0.12, 0.47, 0.71};  // matplotlib's first two colours
constexpr Rgb kVal{1.00, 0.50, 0.05};
constexpr double kLeft = 70, kRight = 20, kTop = 34, kBottom = 44;

/// "Nice" tick step near span / 5 (1, 2 or 5 times a power of ten).
double tick_step(double span) {
  const double raw = span / 5.0;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p) return m * p;
  return 10.0 * p;
}

void text(cairo_t* cr, double x, double y, const std::string& s, double align_x = 0.0,
          double align_y = 0.0) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - align_x * e.width - e.x_bearing, y - align_y * e.height - e.y_bearing);
  cairo_show_text(cr, s.c_str());
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// One panel: the series of `key` and `val_key` (when present) in the box at y0.
void draw_panel(cairo_t* cr, double width, double y0, double height, const std::string& key,
                const std::vector<int>& epochs, const std::vector<double>* train,
                const std::vector<double>* val) {
  const double x_lo = kLeft, x_hi = width - kRight, y_lo = y0 + kTop, y_hi = y0 + height - kBottom;
  double vmin = INFINITY, vmax = -INFINITY;
  for (const auto* s : {train, val})
    if (s)
      for (double v : *s)
        if (std::isfinite(v)) vmin = std::min(vmin, v), vmax = std::max(vmax, v);
  if (!std::isfinite(vmin)) vmin = 0, vmax = 1;
  if (vmax - vmin < 1e-12) vmin -= 0.5, vmax += 0.5;
  const double pad = 0.05 * (vmax - vmin);
  vmin -= pad;
  vmax += pad;
  const double e_first = epochs.front() + 1, e_last = std::max<double>(epochs.back() + 1, e_first + 1);
  auto px = [&](double e) { return x_lo + (e - e_first) / (e_last - e_first) * (x_hi - x_lo); };
  auto py = [&](double v) { return y_hi - (v - vmin) / (vmax - vmin) * (y_hi - y_lo); };

  // Frame, grid and ticks.
  cairo_set_line_width(cr, 1.0);
  cairo_set_font_size(cr, 11);
  const double ys = tick_step(vmax - vmin);
  for (double v = std::ceil(vmin / ys) * ys; v <= vmax; v += ys) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x_lo, py(v));
    cairo_line_to(cr, x_hi, py(v));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, x_lo - 6, py(v), fmt(v), 1.0, 0.5);
  }
  const double xs = std::max(1.0, std::round(tick_step(e_last - e_first)));
  for (double e = e_first; e <= e_last + 1e-9; e += xs) {
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, px(e), y_hi + 6, fmt(e), 0.5, 0.0);
  }
  cairo_rectangle(cr, x_lo, y_lo, x_hi - x_lo, y_hi - y_lo);
  cairo_stroke(cr);
  cairo_set_font_size(cr, 12);
  text(cr, (x_lo + x_hi) / 2, y_hi + 24, "epoch", 0.5, 0.0);
  cairo_set_font_size(cr, 13);
  text(cr, x_lo, y0 + 10, key, 0.0, 0.0);

  // Curves, with a dot at each epoch. The legend goes to the lower right when the curves end
  // in the upper half (rising metrics), else to the upper right.
  int legend = 0;
  const bool legend_low = train && !train->empty() && std::isfinite(train->back()) &&
                          train->back() > (vmin + vmax) / 2;
  const double legend_y0 = legend_low ? y_hi - 12 - 18 * ((train ? 1 : 0) + (val ? 1 : 0) - 1)
                                      : y_lo + 12;
  auto curve = [&](const std::vector<double>& s, Rgb c, const std::string& label) {
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 2.0);
    bool open = false;
    for (size_t i = 0; i < s.size() && i < epochs.size(); ++i) {
      if (!std::isfinite(s[i])) {
        open = false;
        continue;
      }
      const double x = px(epochs[i] + 1), y = py(s[i]);
      open ? cairo_line_to(cr, x, y) : cairo_move_to(cr, x, y);
      open = true;
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < s.size() && i < epochs.size(); ++i)
      if (std::isfinite(s[i])) {
        cairo_arc(cr, px(epochs[i] + 1), py(s[i]), 3.0, 0, 2 * M_PI);
        cairo_fill(cr);
      }
    const double lx = x_hi - 150, ly = legend_y0 + 18 * legend++;
    cairo_move_to(cr, lx, ly);
    cairo_line_to(cr, lx + 24, ly);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_set_font_size(cr, 12);
    text(cr, lx + 30, ly, label, 0.0, 0.5);
  };
  if (train) curve(*train, kTrain, "training");
  if (val) curve(*val, kVal, "validation");
}
}  // namespace

void plot_history(const History& h, const std::string& path, PlotOptions o) {
  if (h.epoch.empty() || h.history.empty())
    fail<ValueError>("plot_history: the history has no epochs (train with fit first)");
  if (o.width < 200 || o.panel_height < 120)
    fail<ValueError>("plot_history: picture too small: width ", o.width, ", panel_height ",
                     o.panel_height, " (at least 200 and 120)");
  // Quantities: loss first, then the others in name order; val_X goes with X.
  std::vector<std::string> keys;
  for (const auto& [k, v] : h.history)
    if (k.rfind("val_", 0) != 0 || !h.history.count(k.substr(4))) keys.push_back(k);
  std::stable_partition(keys.begin(), keys.end(), [](const std::string& k) { return k == "loss"; });
  const double title_h = o.title.empty() ? 0 : 30;
  const int height = static_cast<int>(title_h) + o.panel_height * static_cast<int>(keys.size());
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, o.width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  if (!o.title.empty()) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 15);
    text(cr, o.width / 2.0, 8, o.title, 0.5, 0.0);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    auto val = h.history.find(k.rfind("val_", 0) == 0 ? std::string() : "val_" + k);
    draw_panel(cr, o.width, title_h + static_cast<double>(i) * o.panel_height, o.panel_height, k,
               h.epoch, &h.history.at(k), val == h.history.end() ? nullptr : &val->second);
  }
  cairo_destroy(cr);
  // Encoded in memory, then written through atomic_write: a failure leaves the old file.
  std::string png;
  const cairo_status_t st = cairo_surface_write_to_png_stream(
      surface,
      [](void* closure, const unsigned char* data, unsigned int length) {
        static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
        return CAIRO_STATUS_SUCCESS;
      },
      &png);
  cairo_surface_destroy(surface);
  if (st != CAIRO_STATUS_SUCCESS)
    fail<IOError>("plot_history: cannot encode '", path, "': ", cairo_status_to_string(st));
  atomic_write(path, png, "plot_history");
}

}  // namespace tg::nn
