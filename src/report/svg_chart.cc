#include "report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace brix::report {

namespace {

constexpr double kWidth = 800, kHeight = 450;
constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 55;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c",
                                   "#ff7f0e", "#9467bd", "#8c564b"};

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`.
double NiceStep(double span, int count) {
  const double raw = span / count;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  const double f = raw / power;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}

std::string Label(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) return fmt::format("{:.0e}", v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:g}", v);
}

}  // namespace

std::string RenderSvg(const Chart& chart) {
  // Data range.
  double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = -INFINITY;
  for (const ChartSeries& s : chart.series) {
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y) || (chart.log_x && x <= 0)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  const bool empty = !std::isfinite(x0);
  if (empty) {
    x0 = chart.log_x ? 1e-3 : 0;
    x1 = chart.log_x ? 1 : 1;
    y1 = 1;
  }
  if (chart.log_x) {
    x0 = std::pow(10, std::floor(std::log10(x0)));
    x1 = std::pow(10, std::ceil(std::log10(x1)));
    if (x1 <= x0) x1 = x0 * 10;
  } else if (x1 <= x0) {
    x1 = x0 + 1;
  }
  if (y1 <= y0) y1 = y0 + 1;
  const double y_step = NiceStep(y1 - y0, 5);
  y1 = std::ceil(y1 / y_step) * y_step;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) {
    const double f = chart.log_x
                         ? (std::log10(x) - std::log10(x0)) / (std::log10(x1) - std::log10(x0))
                         : (x - x0) / (x1 - x0);
    return kLeft + f * plot_w;
  };
  auto py = [&](double y) { return kTop + plot_h - (y - y0) / (y1 - y0) * plot_h; };

  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{3}</text>\n",
      kWidth, kHeight, kWidth / 2, Escape(chart.title));
  // Grid and ticks.
  // Loops are capped: a degenerate range (a few ULPs wide) must not spin.
  int guard = 0;
  for (double y = y0; y <= y1 + y_step / 2 && guard++ < 100; y += y_step) {
    out += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        kLeft, kWidth - kRight, py(y), kLeft - 6, py(y) + 4, Label(y));
  }
  std::vector<double> x_ticks;
  if (chart.log_x) {
    for (double x = x0; x <= x1 * 1.0001 && x_ticks.size() < 100; x *= 10) x_ticks.push_back(x);
  } else {
    const double step = NiceStep(x1 - x0, 8);
    for (double x = std::ceil(x0 / step) * step; x <= x1 + step / 1000; x += step)
      x_ticks.push_back(x);
  }
  for (double x : x_ticks) {
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#ddd\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        px(x), kTop, kTop + plot_h, kTop + plot_h + 16, Label(x));
  }
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n"
      "<text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}</text>\n",
      kLeft, kTop, plot_w, plot_h, kLeft + plot_w / 2, kHeight - 12, Escape(chart.x_label),
      kTop + plot_h / 2, kTop + plot_h / 2, Escape(chart.y_label));
  if (empty) {
    out +=
        fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n",
                    kLeft + plot_w / 2, kTop + plot_h / 2);
  }
  // Series.
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const char* color = kColors[i % std::size(kColors)];
    std::string points;
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y) || (chart.log_x && x <= 0)) continue;
      if (s.scatter) {
        out += fmt::format(
            "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"1.6\" fill=\"{}\" fill-opacity=\"0.6\"/>\n",
            px(x), py(y), color);
      } else {
        points += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
      }
    }
    if (!s.scatter && !points.empty()) {
      out += fmt::format(
          "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" points=\"{}\"/>\n", color,
          points);
    }
    const double ly = kTop + 14 + 16 * static_cast<double>(i);
    out += fmt::format(
        "<rect x=\"{}\" y=\"{:.1f}\" width=\"12\" height=\"4\" fill=\"{}\"/>"
        "<text x=\"{}\" y=\"{:.1f}\">{}</text>\n",
        kLeft + 10, ly - 4, color, kLeft + 28, ly, Escape(s.name));
  }
  out += "</svg>\n";
  return out;
}

}  // namespace brix::report
