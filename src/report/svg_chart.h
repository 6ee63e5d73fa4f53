// A minimal SVG line/scatter chart: axes with 1-2-5 ticks (or decades on a log axis), a title,
// axis labels and a legend. Written by hand because Debian has no C++ plotting library that
// writes SVG without a GUI toolkit (matplot++ is not packaged; gnuplot is a separate program).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace brix::report {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
  bool scatter = false;                           // dots instead of a line
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // points with x <= 0 are left out
  std::vector<ChartSeries> series;
};

// A complete SVG document (800x450).
std::string RenderSvg(const Chart& chart);

}  // namespace brix::report
