// File delivery target (see include/mxgate/delivery/file_target.h). deliver() runs on any
// thread; write() runs on the file lane.
#include "mxgate/delivery/file_target.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mxgate::delivery {
namespace {

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

bool writeAll(int fd, const std::string& head, const std::string& body, std::string& error) {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  int count = 2;
  iovec* next = parts;
  while (count > 0) {
    ssize_t n = ::writev(fd, next, count);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      error = errnoText("write");
      return false;
    }
    auto left = static_cast<size_t>(n);
    while (count > 0 && left >= next->iov_len) {
      left -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + left;
      next->iov_len -= left;
    }
  }
  return true;
}

}  // namespace

FileTarget::FileTarget(std::string directory, io::Lane& lane) : directory_(std::move(directory)), lane_(lane) {}

void FileTarget::deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) {
  auto task = [this, job, done] { done(write(*job)); };
  if (!lane_.submit(task)) {
    done(uniformResult(*job, Outcome::TempFail, "file delivery lane is full", directory_));
  }
}

Result FileTarget::write(const Job& job) const {
  const std::string name = job.id.str();
  const std::string final_path = directory_ + "/" + name + ".eml";
  const std::string temp_path = directory_ + "/." + name + ".eml.tmp";
  auto fail = [&](const std::string& error) {
    return uniformResult(job, Outcome::TempFail, "file delivery failed: " + error, final_path);
  };

  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec) {
    return fail("create " + directory_ + ": " + ec.message());
  }
  std::string head = "Return-Path: <" + job.mail_from + ">\r\n";
  for (const auto& recipient : job.recipients) {
    head += "Delivered-To: " + recipient + "\r\n";
  }
  head += job.headers;

  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return fail(errnoText("open " + temp_path));
  }
  std::string error;
  bool ok = writeAll(fd, head, *job.body, error);
  if (ok && ::fdatasync(fd) != 0) {
    error = errnoText("fdatasync");
    ok = false;
  }
  if (::close(fd) != 0 && ok) {
    error = errnoText("close");
    ok = false;
  }
  if (!ok) {
    ::unlink(temp_path.c_str());
    return fail(error);
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    error = errnoText("rename");
    ::unlink(temp_path.c_str());
    return fail(error);
  }
  int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || ::fsync(dir) != 0) {
    error = errnoText("fsync " + directory_);
    if (dir >= 0) {
      ::close(dir);
    }
    return fail(error);
  }
  ::close(dir);
  return uniformResult(job, Outcome::Delivered, "delivered to " + final_path, final_path);
}

}  // namespace mxgate::delivery
