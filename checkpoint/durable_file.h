// A checkpoint file written so that it is whole or absent: its bytes go to
// <path>.tmp, are flushed to the disk (fsync), the temporary name is renamed
// into place, and the directory is flushed so that the rename survives a
// power loss. A process killed at any moment leaves either the old state or
// the whole new file (plus, at worst, a .tmp that nothing reads).
//
// Every failure (no space, a file size limit, an unwritable directory) is an
// InputError naming the file and the system's error: the caller stops the run
// rather than train on without its checkpoint (exit 2). The size and XXH3-64
// of what was written are computed on the way, for the manifest.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "checkpoint/file_digest.h"
#include "checkpoint/write_point.h"

namespace pipekit {

class DurableFile {
 public:
  // Creates the parent directories and opens <path>.tmp. `at(mid)` is called
  // once the first bytes are written (a test hook: see write_point.h).
  DurableFile(std::string path, WriteHook at = {}, WritePoint mid = WritePoint::mid_file);
  // An uncommitted file is closed and its temporary removed.
  ~DurableFile();
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  // Appends; false when the system refused (the error is kept for commit(),
  // and later writes do nothing). For writers that cannot throw, such as a
  // callback inside a C library.
  bool write(const void* data, std::size_t n);
  // Flushes, closes and renames into place; throws InputError on any failure,
  // including an earlier write's. Returns the size and digest of the file.
  FileDigest commit();

  const std::string& path() const { return path_; }
  // The failed write's error ("" if none): what the system said.
  const std::string& error() const { return error_; }
  // Throws the InputError for `what` (the system's error) about this file.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string path_, tmp_;
  WriteHook at_;
  WritePoint mid_;
  int fd_ = -1;
  std::string error_;
  Xxh3Digest digest_;
  std::int64_t bytes_ = 0;
};

// The whole of `content`, durably; the hook's `mid` point falls halfway.
FileDigest write_file_durably(const std::string& path, std::string_view content, const WriteHook& at = {},
                              WritePoint mid = WritePoint::mid_file);

// Flushes a directory's entries (after a rename or a removal in it).
void sync_directory(const std::string& dir);

}  // namespace pipekit
