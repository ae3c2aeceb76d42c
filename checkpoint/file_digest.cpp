#include "checkpoint/file_digest.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace pipekit {

struct Xxh3Digest::State {
  XXH3_state_t* s = nullptr;
};

Xxh3Digest::Xxh3Digest() : state_(std::make_unique<State>()) {
  state_->s = XXH3_createState();
  if (!state_->s || XXH3_64bits_reset(state_->s) != XXH_OK) throw std::bad_alloc();
}

Xxh3Digest::~Xxh3Digest() {
  XXH3_freeState(state_->s);
}

void Xxh3Digest::update(const void* data, std::size_t n) {
  XXH3_64bits_update(state_->s, data, n);
}

std::string Xxh3Digest::hex() const {
  return fmt::format("{:016x}", static_cast<std::uint64_t>(XXH3_64bits_digest(state_->s)));
}

std::string xxh3_hex(const void* data, std::size_t n) {
  return fmt::format("{:016x}", static_cast<std::uint64_t>(XXH3_64bits(data, n)));
}

bool is_xxh3_hex(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

FileDigest digest_file(const std::string& path) {
  FileDigest out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = std::strerror(errno);
    return out;
  }
  Xxh3Digest d;
  std::vector<char> buf(1 << 20);
  std::int64_t bytes = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = std::strerror(errno);
      ::close(fd);
      return out;
    }
    if (n == 0) break;
    d.update(buf.data(), static_cast<std::size_t>(n));
    bytes += n;
  }
  ::close(fd);
  out.bytes = bytes;
  out.xxh3 = d.hex();
  return out;
}

}  // namespace pipekit
