#include "verifier/channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <utility>

namespace ak::verifier {
namespace {

using Clock = std::chrono::steady_clock;

Status write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    // MSG_NOSIGNAL: a worker that died must be an error here, not a SIGPIPE in the judge.
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(std::string("channel: send: ") + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}

/// Reads exactly `size` bytes before `deadline`.
Status read_all(int fd, char* data, size_t size, Clock::time_point deadline) {
  while (size > 0) {
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return failed("channel: no answer from the worker in time");
      timeout_ms = static_cast<int>(std::min<int64_t>(left, INT_MAX));
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return failed(std::string("channel: poll: ") + std::strerror(errno));
    if (ready == 0) continue;  // the deadline check above ends it
    const ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(std::string("channel: read: ") + std::strerror(errno));
    if (n == 0) return failed("channel: the worker closed its end");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Channel::Channel(Channel&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Channel& Channel::operator=(Channel&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Channel::~Channel() {
  if (fd_ >= 0) ::close(fd_);
}

Status Channel::make_pair(Channel* judge, int* worker_fd) {
  int fds[2];
  // Close-on-exec: no other child the judge starts (compilers) may inherit either end;
  // run_process clears the flag on the worker's copy when it moves it to fd 3.
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return internal_error(std::string("socketpair: ") + std::strerror(errno));
  *judge = Channel(fds[0]);
  *worker_fd = fds[1];
  return Status::ok();
}

Status Channel::send(std::string_view payload) {
  if (fd_ < 0) return failed("channel: not open");
  unsigned char header[8];
  uint64_t size = payload.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<unsigned char>(size >> (8 * i));
  AK_RETURN_IF_ERROR(write_all(fd_, reinterpret_cast<const char*>(header), sizeof header));
  return write_all(fd_, payload.data(), payload.size());
}

Result<std::string> Channel::receive(double timeout_s, uint64_t max_bytes) {
  if (fd_ < 0) return failed("channel: not open");
  const Clock::time_point deadline =
      timeout_s > 0 ? Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s))
                    : Clock::time_point::max();
  unsigned char header[8];
  AK_RETURN_IF_ERROR(read_all(fd_, reinterpret_cast<char*>(header), sizeof header, deadline));
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size |= static_cast<uint64_t>(header[i]) << (8 * i);
  if (size > max_bytes) return failed("channel: a frame of " + std::to_string(size) + " bytes is larger than allowed");
  std::string payload(size, '\0');
  AK_RETURN_IF_ERROR(read_all(fd_, payload.data(), payload.size(), deadline));
  return payload;
}

}  // namespace ak::verifier
