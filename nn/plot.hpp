// Training curves of a History as a PNG picture (Keras users' matplotlib plot of history).
#pragma once
#include <string>

#include "tapegrad/nn/callbacks.hpp"

namespace tg::nn {

/// Options of plot_history.
struct PlotOptions {
  int width = 900;          ///< picture width in pixels
  int panel_height = 320;   ///< height of each panel (one per quantity)
  std::string title = "";   ///< drawn above the first panel when not empty
};

/// Writes the curves of history to a PNG file: one panel per quantity (loss first, then each
/// metric), the training values and, where present, the validation ("val_") values over the
/// epochs, with axes, tick labels and a legend. Drawn with cairo. The file is written to a
/// temporary name and renamed, so a failed write leaves an existing file as it was. Throws
/// ValueError for an empty history and IOError naming the path when it cannot be written.
void plot_history(const History& history, const std::string& path, PlotOptions options = {});

}  // namespace tg::nn
