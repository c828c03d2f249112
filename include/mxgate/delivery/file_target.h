// The `file` delivery target: writes each message as raw RFC 5322 bytes into
// <directory>/<queue id>.eml, with Return-Path: and one Delivered-To: per recipient (RFC 9228)
// in front of the stored message. Write to a temporary name, fdatasync, rename, fsync the
// directory: a file under its final name is complete and durable, and a redelivery after a
// crash overwrites the same name (idempotent). Blocking I/O runs on the file lane.
#pragma once

#include <string>

#include "mxgate/delivery/target.h"
#include "mxgate/io/lane.h"

namespace mxgate::delivery {

class FileTarget : public Target {
 public:
  FileTarget(std::string directory, io::Lane& lane);
  void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) override;
  // As many writes as the file lane has threads.
  uint32_t concurrency() const override { return static_cast<uint32_t>(lane_.threads()); }
  std::string describe() const override { return "file:" + directory_; }

  // The blocking write itself (runs on the lane; public for tests).
  Result write(const Job& job) const;

 private:
  std::string directory_;
  io::Lane& lane_;
};

}  // namespace mxgate::delivery
