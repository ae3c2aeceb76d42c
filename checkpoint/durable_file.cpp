#include "checkpoint/durable_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace pipekit {
namespace fs = std::filesystem;

DurableFile::DurableFile(std::string path, WriteHook at, WritePoint mid)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), at_(std::move(at)), mid_(mid) {
  std::error_code ec;
  const fs::path parent = fs::path(path_).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) fail("cannot create its directory: " + ec.message());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(std::strerror(errno));
}

DurableFile::~DurableFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  std::remove(tmp_.c_str());
}

void DurableFile::fail(const std::string& what) const {
  throw InputError(path_, "",
                   fmt::format("cannot write this checkpoint file: {}; the run stops here, and the "
                               "checkpoints written before are untouched",
                               what));
}

bool DurableFile::write(const void* data, std::size_t n) {
  if (!error_.empty() || fd_ < 0) return false;
  const char* p = static_cast<const char*>(data);
  std::size_t left = n;
  while (left > 0) {
    const ssize_t w = ::write(fd_, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error_ = std::strerror(errno);
      return false;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  digest_.update(data, n);
  const bool first = bytes_ == 0 && n > 0;
  bytes_ += static_cast<std::int64_t>(n);
  if (first && at_ && mid_ != WritePoint::none) at_(mid_);
  return true;
}

FileDigest DurableFile::commit() {
  if (!error_.empty()) fail(error_);
  if (::fsync(fd_) != 0) fail(std::strerror(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const std::string e = std::strerror(errno);
    std::remove(tmp_.c_str());
    fail(e);
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string e = std::strerror(errno);
    std::remove(tmp_.c_str());
    fail("cannot rename " + tmp_ + " into place: " + e);
  }
  sync_directory(fs::path(path_).parent_path().string());
  FileDigest out;
  out.bytes = bytes_;
  out.xxh3 = digest_.hex();
  return out;
}

FileDigest write_file_durably(const std::string& path, std::string_view content, const WriteHook& at,
                              WritePoint mid) {
  DurableFile f(path, at, mid);
  const std::size_t half = content.size() / 2;
  f.write(content.data(), half);
  if (half == 0 && at && mid != WritePoint::none) at(mid);
  f.write(content.data() + half, content.size() - half);
  return f.commit();
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // nothing to flush through: the entries are written all the same
  ::fsync(fd);
  ::close(fd);
}

}  // namespace pipekit
