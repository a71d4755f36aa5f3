// Shared by the libFuzzer harnesses: the readers under test take a path, so each input is
// written to one file per process (in /dev/shm when it exists, memory-backed) and read back.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tg::fuzz {

/// Writes the input to this process's scratch file (with the given extension) and returns its
/// path. Aborts when the file cannot be written: that is the harness's fault, not an input's.
inline const std::string& write_input(const uint8_t* data, size_t size, const char* ext) {
  // (the path is made once: one harness writes one kind of file)
  static const std::string path = [&] {
    const std::filesystem::path dir =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    return (dir / ("tg_fuzz_" + std::to_string(::getpid()) + ext)).string();
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror("tg fuzz: cannot write the scratch file");
    std::abort();
  }
  return path;
}

/// The input with its last 8 bytes replaced by the FNV-1a 64 checksum (little-endian) of the
/// rest, as a TGMODEL file ends (docs/saving.md): without it nearly every mutation would stop at
/// the checksum test and the parser behind it would never be reached.
inline std::string with_checksum(const uint8_t* data, size_t size) {
  std::string b(reinterpret_cast<const char*>(data), size);
  if (b.size() < 24) return b;
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i + 8 < b.size(); ++i) {
    h ^= static_cast<unsigned char>(b[i]);
    h *= 1099511628211ull;
  }
  for (int i = 0; i < 8; ++i) b[b.size() - 8 + i] = static_cast<char>((h >> (8 * i)) & 0xff);
  return b;
}

}  // namespace tg::fuzz
