// `--keep-checkpoints N`: what rank 0 deletes once checkpoint `newest` is
// complete and verified (never before). It keeps the N newest complete
// checkpoints up to `newest`, that one among them, and deletes the complete
// ones older than those, together with older directories whose write was
// interrupted (no manifest: they can never complete). Checkpoints newer than
// `newest` (an earlier run's, before this one resumed from an older one) are
// not touched. A checkpoint that was complete when counted is kept even if it
// has been damaged since; its verification was when it was written.
//
// A deleted checkpoint loses its manifest first, so a deletion that is
// interrupted leaves an incomplete directory, never a complete-looking one.
#pragma once

#include <string>
#include <vector>

namespace pipekit {

// keep 0: keep all. Returns the directories deleted, oldest first. Throws
// InputError naming the directory when one cannot be deleted.
std::vector<std::string> apply_retention(const std::string& root, int newest, int keep);

}  // namespace pipekit
