#pragma once
/// Progress lines on stderr for long-running commands: a line rewritten in place on a
/// terminal; on a pipe or log file, one line when each phase completes.

#include <unistd.h>

#include <iostream>
#include <string>

namespace ak::cli {

class Progress {
 public:
  /// `quiet`: print nothing (e.g. when stdout carries JSON meant for a pipe and the user asked for silence).
  explicit Progress(bool quiet = false) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}
  ~Progress() { clear(); }

  /// Reports `done` of `total` in `phase`.
  void update(const std::string& phase, int done, int total) {
    if (quiet_) return;
    if (tty_) {
      std::string text = phase + ": " + std::to_string(done) + "/" + std::to_string(total);
      std::cerr << "\r" << text << std::string(width_ > text.size() ? width_ - text.size() : 0, ' ') << std::flush;
      width_ = text.size();
    } else if (done == total) {
      std::cerr << phase << ": " << done << "/" << total << " done" << std::endl;
    }
  }
  /// Reports the start of a step without a count.
  void step(const std::string& what) {
    if (quiet_) return;
    if (tty_) {
      std::cerr << "\r" << what << std::string(width_ > what.size() ? width_ - what.size() : 0, ' ') << std::flush;
      width_ = what.size();
    } else {
      std::cerr << what << std::endl;
    }
  }
  /// Erases the in-place line (before printing results).
  void clear() {
    if (tty_ && width_ > 0) std::cerr << "\r" << std::string(width_, ' ') << "\r" << std::flush;
    width_ = 0;
  }

 private:
  bool quiet_;
  bool tty_;
  size_t width_ = 0;
};

}  // namespace ak::cli
