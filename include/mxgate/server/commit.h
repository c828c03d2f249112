// The durable commit of an accepted message, shared by its two entries: the SMTP session (before
// its 250) and the HTTP send API (before its 202). The caller's batch (body chunks, the intake's
// records) and the message record go to the spool in one synced write, counted in the
// admission's in-flight bytes; once written, the scheduler gets the message (with its body when
// the caller still has it, so the first delivery needs no read). Any thread; done runs on the
// spool writer thread (post it to your loop).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mxgate/server/runtime.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::server {

void commitAccepted(Runtime& runtime, spool::Batch batch, spool::MessageRecord record,
                    std::shared_ptr<const std::string> hot_body, std::function<void(const spool::CommitStatus&)> done);

}  // namespace mxgate::server
