// The synced commit of an accepted message (see include/mxgate/server/commit.h). The caller's
// thread, then the spool writer thread.
#include "mxgate/server/commit.h"

#include "mxgate/scheduler/scheduler.h"
#include "mxgate/spool/admission.h"

namespace mxgate::server {

void commitAccepted(Runtime& runtime, spool::Batch batch, spool::MessageRecord record,
                    std::shared_ptr<const std::string> hot_body, std::function<void(const spool::CommitStatus&)> done) {
  batch.putMessage(record);
  const uint64_t bytes = batch.bytes();
  spool::Admission& admission = runtime.admission();
  admission.addInflight(bytes);
  admission.addWritten(bytes);
  scheduler::Scheduler& scheduler = runtime.scheduler();
  runtime.store().submit(std::move(batch), true,
                         [bytes, &admission, &scheduler, record = std::move(record), hot_body = std::move(hot_body),
                          done = std::move(done)](const spool::CommitStatus& status) {
                           admission.releaseInflight(bytes);
                           if (status.ok) {
                             scheduler.enqueue(record, hot_body);
                           }
                           done(status);
                         });
}

}  // namespace mxgate::server
