// Progress bar rendering.
#include "tapegrad/nn/progress_bar.hpp"

#include <unistd.h>

#include <cmath>
#include <sstream>

namespace tg::nn {

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", int(s) / 3600, (int(s) % 3600) / 60,
                  int(s) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%d:%02d", int(s) / 60, int(s) % 60);
  else if (s >= 1)
    std::snprintf(buf, sizeof buf, "%ds", int(std::round(s)));
  else
    std::snprintf(buf, sizeof buf, "%dms", int(std::round(s * 1000)));
  return buf;
}

ProgressBar::ProgressBar(int64_t target, int verbose, std::FILE* out)
    : target_(target),
      verbose_(verbose),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::format_values(
    const std::vector<std::pair<std::string, double>>& values) const {
  std::ostringstream os;
  for (const auto& [k, v] : values) {
    char buf[64];
    if (std::abs(v) >= 1e-3 || v == 0)
      std::snprintf(buf, sizeof buf, " - %s: %.4f", k.c_str(), v);
    else
      std::snprintf(buf, sizeof buf, " - %s: %.4e", k.c_str(), v);
    os << buf;
  }
  return os.str();
}

void ProgressBar::update(int64_t current, const std::vector<std::pair<std::string, double>>& values,
                         bool finalize) {
  if (verbose_ == 0) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const bool done = finalize || (target_ > 0 && current >= target_);
  if (verbose_ == 2 && !done) return;
  if (verbose_ == 1 && !tty_ && !done) {
    // Not a terminal: a plain line about every 10% of the epoch.
    const int64_t every = target_ > 0 ? std::max<int64_t>(1, target_ / 10) : 100;
    if (current - last_printed_ < every) return;
  }
  last_printed_ = current;
  std::ostringstream line;
  if (target_ > 0) {
    const int digits = static_cast<int>(std::to_string(target_).size());
    char head[64];
    std::snprintf(head, sizeof head, "%*lld/%lld", digits, static_cast<long long>(current),
                  static_cast<long long>(target_));
    line << head;
    if (verbose_ == 1) {
      constexpr int kWidth = 30;
      const int filled =
          static_cast<int>(kWidth * std::min<double>(1.0, double(current) / double(target_)));
      std::string bar(static_cast<size_t>(kWidth), '.');
      for (int i = 0; i < filled; ++i) bar[i] = '=';
      if (filled > 0 && filled < kWidth) bar[filled - 1] = '>';
      line << " [" << bar << "]";
    }
  } else {
    line << current << "/Unknown";
  }
  if (done) {
    const double per_step = current > 0 ? elapsed / double(current) : 0;
    line << " - " << format_duration(elapsed) << " " << format_duration(per_step) << "/step";
  } else {
    const double eta =
        current > 0 && target_ > 0 ? elapsed / double(current) * double(target_ - current) : 0;
    line << " - ETA: " << format_duration(eta);
  }
  line << format_values(values);
  std::string s = line.str();
  if (verbose_ == 1 && tty_) {
    std::string pad = s.size() < last_width_ ? std::string(last_width_ - s.size(), ' ') : "";
    std::fprintf(out_, "\r%s%s", s.c_str(), pad.c_str());
    last_width_ = s.size();
    if (done) std::fputc('\n', out_);
  } else {
    std::fprintf(out_, "%s\n", s.c_str());
  }
  std::fflush(out_);
}

}  // namespace tg::nn
