// Unit tests for the file delivery target: exact bytes, atomic final name, idempotent
// redelivery, and a temporary failure (not a loss) when the directory cannot be written.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "mxgate/delivery/file_target.h"

using namespace mxgate;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(file_target)

BOOST_AUTO_TEST_CASE(writes_one_eml_per_message_with_trace_headers) {
  char pattern[] = "/tmp/mxgate-file-XXXXXX";
  std::string dir = std::string(mkdtemp(pattern)) + "/inbox";
  io::Lane lane("file", 1, 10);
  delivery::FileTarget target(dir, lane);
  auto job = std::make_shared<delivery::Job>();
  job->id = mail::QueueId::generate();
  job->mail_from = "s@remote.example";
  job->recipients = {"a@example.test", "b@example.test"};
  job->body = std::make_shared<const std::string>("Received: x\r\nSubject: s\r\n\r\nbody\r\n");
  std::promise<delivery::Result> done;
  target.deliver(job, [&](delivery::Result result) { done.set_value(std::move(result)); });
  delivery::Result result = done.get_future().get();
  BOOST_REQUIRE(result.recipients.size() == 2u);
  BOOST_TEST((result.recipients[0].outcome == delivery::Outcome::Delivered));
  std::string path = dir + "/" + job->id.str() + ".eml";
  BOOST_TEST(result.remote == path);
  BOOST_TEST(slurp(path) ==
             "Return-Path: <s@remote.example>\r\nDelivered-To: a@example.test\r\nDelivered-To: b@example.test\r\n"
             "Received: x\r\nSubject: s\r\n\r\nbody\r\n");
  // A redelivery after a crash overwrites the same file: no second copy, no temp left over.
  BOOST_TEST((target.write(*job).recipients[1].outcome == delivery::Outcome::Delivered));
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    BOOST_TEST(entry.path().filename().string()[0] != '.');
    ++files;
  }
  BOOST_TEST(files == 1u);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

BOOST_AUTO_TEST_CASE(unwritable_directory_is_a_temporary_failure) {
  io::Lane lane("file", 1, 10);
  delivery::FileTarget target("/proc/mxgate-cannot-exist", lane);
  delivery::Job job;
  job.id = mail::QueueId::generate();
  job.recipients = {"a@example.test"};
  job.body = std::make_shared<const std::string>("x\r\n");
  delivery::Result result = target.write(job);
  BOOST_TEST((result.recipients[0].outcome == delivery::Outcome::TempFail));
  BOOST_TEST(result.recipients[0].reply.find("file delivery failed") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
