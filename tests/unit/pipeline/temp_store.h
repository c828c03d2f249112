// A spool store in a fresh temporary directory, removed with it: what the intake records into
// in the pipeline tests. Test-only; single thread.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "mxgate/spool/store.h"

namespace mxgate::pipeline::test {

struct TempStore {
  TempStore() {
    char pattern[] = "/tmp/mxgate-pipeline-XXXXXX";
    path = mkdtemp(pattern);
    config::SpoolSettings settings;
    settings.path = path;
    std::string error;
    store = spool::Store::open(settings, error);
    BOOST_REQUIRE_MESSAGE(store, error);
  }
  ~TempStore() {
    store.reset();
    std::filesystem::remove_all(path);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  std::string path;
  std::unique_ptr<spool::Store> store;
};

}  // namespace mxgate::pipeline::test
