#pragma once
/// The judge's line to its worker process: one end of a socketpair that the worker
/// inherits as fd 3 before it loads the candidate (base/subprocess.h, channel_fd). Frames
/// are an 8-byte little-endian length and that many bytes; JSON messages and raw tensor
/// bytes both travel as frames. Nothing the worker reports goes through the file system,
/// so there is no file a candidate could find and rewrite after the fact. Torch-free.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ak::verifier {

/// Owns one connected stream socket (or pipe) and moves frames over it.
class Channel {
 public:
  Channel() = default;
  explicit Channel(int fd) : fd_(fd) {}
  Channel(Channel&& other) noexcept;
  Channel& operator=(Channel&& other) noexcept;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  /// A connected pair (AF_UNIX, SOCK_STREAM, close-on-exec): judge side first.
  static Status make_pair(Channel* judge, int* worker_fd);

  int fd() const { return fd_; }
  /// Sends one frame; fails when the other side is gone.
  Status send(std::string_view payload);
  /// The next frame, waiting at most `timeout_s` (<= 0: forever). Fails on end-of-file
  /// (the other side exited), a timeout or a frame larger than `max_bytes`.
  Result<std::string> receive(double timeout_s = 0, uint64_t max_bytes = uint64_t{1} << 36);

 private:
  int fd_ = -1;
};

}  // namespace ak::verifier
