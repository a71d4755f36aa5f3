// plot_history: the PNG has one panel per quantity, falling loss curves fall and rising accuracy
// curves rise (read back from the pixels), and failed writes keep the previous file.
#include <cairo.h>

#include <fstream>

#include "test_util.hpp"

using namespace tg;

namespace {
/// Mean row of the pixels of colour (r, g, b) ± 40 in columns [x0, x1) and rows [y0, y1);
/// -1 when there are none.
double mean_row(cairo_surface_t* s, int r, int g, int b, int x0, int x1, int y0, int y1) {
  const unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  double sum = 0;
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const uint32_t px = *reinterpret_cast<const uint32_t*>(data + y * stride + 4 * x);
      const int pr = (px >> 16) & 255, pg = (px >> 8) & 255, pb = px & 255;
      if (std::abs(pr - r) < 40 && std::abs(pg - g) < 40 && std::abs(pb - b) < 40) {
        sum += y;
        ++n;
      }
    }
  return n ? sum / n : -1;
}

nn::History make_history() {
  nn::History h;
  h.epoch = {0, 1, 2, 3, 4, 5};
  h.history["loss"] = {1.0, 0.8, 0.6, 0.4, 0.3, 0.2};
  h.history["val_loss"] = {1.1, 0.95, 0.8, 0.7, 0.65, 0.6};
  h.history["accuracy"] = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9};
  return h;
}
}  // namespace

TEST_CASE("plot_history draws one panel per quantity with curves that follow the values",
          "[plot]") {
  const auto dir = test::temp_dir("plot", "curves");
  const std::string path = (dir / "curves.png").string();
  nn::plot_history(make_history(), path, {.width = 600, .panel_height = 250});
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  REQUIRE(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS);
  CHECK(cairo_image_surface_get_width(s) == 600);
  CHECK(cairo_image_surface_get_height(s) == 2 * 250);  // loss (with val_loss), accuracy
  // Panel 1 (rows 0-250): loss falls, so the training (blue) pixels on the left sit higher
  // (smaller row) than those on the right; the validation curve (orange) is drawn too.
  const double left = mean_row(s, 31, 119, 180, 70, 200, 0, 250);
  const double right = mean_row(s, 31, 119, 180, 430, 560, 0, 250);
  REQUIRE(left >= 0);
  REQUIRE(right >= 0);
  CHECK(left < right);
  CHECK(mean_row(s, 255, 127, 13, 70, 560, 0, 250) >= 0);
  // Panel 2 (rows 250-500): accuracy rises; no validation accuracy, so no orange curve.
  const double acc_left = mean_row(s, 31, 119, 180, 70, 200, 250, 500);
  const double acc_right = mean_row(s, 31, 119, 180, 430, 560, 250, 500);
  REQUIRE(acc_left >= 0);
  CHECK(acc_left > acc_right);
  CHECK(mean_row(s, 255, 127, 13, 70, 420, 280, 500) < 0);
  cairo_surface_destroy(s);
  std::filesystem::remove_all(dir);
}

TEST_CASE("plot_history of a real fit, and its errors", "[plot]") {
  const auto dir = test::temp_dir("plot", "fit");
  manual_seed(2);
  Tensor x = randn({64, 3});
  Tensor y = matmul(x, tensor({1.f, -2.f, 0.5f}, {3, 1}));
  nn::Sequential m;
  m.add(nn::Dense(1, {.input_shape = {3}}));
  m.compile({.optimizer = optim::SGD({.learning_rate = 0.1}), .loss = "mse", .metrics = {"mae"}});
  nn::History h = m.fit(x, y, {.batch_size = 16, .epochs = 4, .verbose = 0, .validation_split = 0.25});
  const std::string path = (dir / "fit.png").string();
  nn::plot_history(h, path, {.title = "Dense(1) on a linear target"});
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  REQUIRE(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS);
  CHECK(cairo_image_surface_get_height(s) == 30 + 2 * 320);  // title, loss, mae
  cairo_surface_destroy(s);

  CHECK_THROWS_AS(nn::plot_history(nn::History{}, path), ValueError);
  // An unwritable target is an IOError naming it, and the existing file survives.
  CHECK_THROWS_AS(nn::plot_history(h, (dir / "missing" / "x.png").string()), IOError);
  CHECK_THROWS_WITH(nn::plot_history(h, (dir / "missing" / "x.png").string()),
                    Catch::Contains("plot_history") && Catch::Contains("missing"));
  // A target the rename cannot replace (a non-empty folder): IOError, the folder survives and
  // no temporary file is left.
  const std::string keep = (dir / "keep.png").string();
  std::filesystem::create_directories(keep + "/sub");
  CHECK_THROWS_WITH(nn::plot_history(h, keep),
                    Catch::Contains("plot_history") && Catch::Contains("keep.png"));
  CHECK(std::filesystem::is_directory(keep + "/sub"));
  int others = 0;
  for (auto& e : std::filesystem::directory_iterator(dir))
    others += e.path().filename().string().rfind("keep.png.tmp", 0) == 0;
  CHECK(others == 0);
  std::filesystem::remove_all(dir);
}
