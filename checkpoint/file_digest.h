// XXH3-64 digests (Debian's libxxhash) of checkpoint files: what a manifest
// records for each file and what verification recomputes, written as 16
// lower-case hex digits. XXH3 finds damage (a flipped bit, a file cut short or
// overwritten) at memory speed; it is not cryptographic and does not detect
// deliberate tampering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pipekit {

// Incremental digest of a byte stream.
class Xxh3Digest {
 public:
  Xxh3Digest();
  ~Xxh3Digest();
  Xxh3Digest(const Xxh3Digest&) = delete;
  Xxh3Digest& operator=(const Xxh3Digest&) = delete;

  void update(const void* data, std::size_t n);
  // The digest of everything passed to update() so far.
  std::string hex() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A file's size and digest, read whole; `error` says why it could not be read
// (then bytes and xxh3 are empty).
struct FileDigest {
  std::int64_t bytes = 0;
  std::string xxh3;
  std::string error;
};
FileDigest digest_file(const std::string& path);

// The digest of `n` bytes at `data`.
std::string xxh3_hex(const void* data, std::size_t n);

// Whether `s` is a digest as written here (16 lower-case hex digits).
bool is_xxh3_hex(const std::string& s);

}  // namespace pipekit
