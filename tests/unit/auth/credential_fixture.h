// Shared by the credential and authenticator tests: a real spool in a temporary directory, a
// credential lane, a running loop and a CredentialStore over them; and a lane whose thread is
// taken and whose queue is full, to see what a busy node answers.
#pragma once

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "mxgate/auth/credentials.h"

namespace mxgate::test {

struct CredentialFixture {
  CredentialFixture() {
    char pattern[] = "/tmp/mxgate-cred-XXXXXX";
    path = mkdtemp(pattern);
    config::SpoolSettings settings;
    settings.path = path + "/spool";
    std::string error;
    store = spool::Store::open(settings, error);
    BOOST_REQUIRE_MESSAGE(store, error);
    credentials = std::make_unique<auth::CredentialStore>(*store, lane, node_key);
    loop.start();
  }
  ~CredentialFixture() {
    loop.stop();
    loop.join();
    lane.stop();
    credentials.reset();
    store.reset();
    std::filesystem::remove_all(path);
  }

  // Runs an asynchronous call and waits for the answer it posts to the loop.
  template <class Result, class Call>
  Result await(Call call) {
    std::promise<Result> answer;
    call([this, &answer](Result result) {
      BOOST_CHECK(loop.inLoopThread());
      answer.set_value(std::move(result));
    });
    return answer.get_future().get();
  }

  auth::CredentialStore::Change add(std::string tenant, std::string name,
                                    auth::CredentialKind kind = auth::CredentialKind::Smtp) {
    return await<auth::CredentialStore::Change>(
        [&](auto done) { credentials->add(loop, tenant, name, kind, "cli:test", std::move(done)); });
  }

  const std::string node_key = std::string(64, 'k');
  std::string path;
  std::unique_ptr<spool::Store> store;
  io::Lane lane{"credentials", 1, 100};
  io::Loop loop{"test"};
  std::unique_ptr<auth::CredentialStore> credentials;
};

// A lane of one thread, kept busy, with its one queue place taken: it refuses the next job.
struct FullLane {
  FullLane() {
    std::promise<void> running;
    lane.submit([gate = release.get_future().share(), &running] {
      running.set_value();
      gate.wait();
    });
    running.get_future().wait();
    lane.submit([] {});
  }
  ~FullLane() {
    release.set_value();
    lane.stop();
  }
  std::promise<void> release;
  io::Lane lane{"full", 1, 1};
};

}  // namespace mxgate::test
