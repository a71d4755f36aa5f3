// Readers for the IDX format (MNIST-style files, gzip-compressed or not) and Fashion-MNIST.
#pragma once
#include <string>

#include "tapegrad/core/tensor.hpp"

namespace tg::nn::data {

/// Reads an IDX file (plain or .gz): ubyte/sbyte/short/int data become int32, float float32,
/// double float64. Throws IOError naming the file and the problem (missing, truncated, bad magic).
Tensor read_idx(const std::string& path);

/// Train and test splits of a labelled image data set.
struct ImageSplits {
  Tensor x_train, y_train, x_test, y_test;
};

/// Default folder of Debian's dataset-fashion-mnist package.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Loads Fashion-MNIST: images float32 [n, 28, 28] with pixels 0..255 (divide by 255 as in
/// Keras), labels int64 [n]. Throws IOError with an install hint when the files are missing.
ImageSplits load_fashion_mnist(const std::string& dir = kFashionMnistDir);

/// Fashion-MNIST class names, by label.
const char* fashion_mnist_class_name(int64_t label);

}  // namespace tg::nn::data
