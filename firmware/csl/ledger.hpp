// The per-PE resource ledger of a Program: which claimant (the program itself, or a module instance such as
// "module 'rows' (ktree_allreduce)") holds each input queue, output queue, microthread and task ID. Modules
// claim a number they were given or draw the first free one in an order; a second claim of a held number is kept
// as a conflict and reported at load (Program::attach) naming the PE and both claimants. Colours are claimed per
// route in the Layout (Layout::set_color_config's claimant), which sees every module of a PE.
// Compact on purpose (one per PE at 720x720): owners are small indices into the program's claimant names, which
// point into the process-wide intern table (every PE running the same program shares them).
// Not modelled: WSE-3's explicit microthread IDs independent of queue numbers (a microthread here is the queue
// number of the operation's fabout, else of its fabin, as on WSE-2).
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace wafersim::csl {

enum class Resource : std::uint8_t { InputQueue, OutputQueue, Microthread, TaskId };
const char* to_string(Resource r);  // "input queue", "output queue", "microthread", "task ID"

class ResourceLedger {
 public:
  // Numbers per resource: queues and microthreads 0..7 (hw::PeQueues::kMaxQueues), task IDs 0..63.
  static constexpr int slots(Resource r) { return r == Resource::TaskId ? 64 : 8; }

  // Claims `id` for `claimant` (an interned name, e.g. Module::claimant(), is found by address); if another claimant
  // holds it, the conflict is kept for check().
  void claim(Resource r, int id, const std::string& claimant);
  bool taken(Resource r, int id) const { return id >= 0 && id < slots(r) && owner_[slot(r, id)] >= 0; }
  // Holder's name, or "" when free.
  const std::string& holder(Resource r, int id) const;
  // The numbers of `r` held and by whom, for capacity errors: "1,2,4 by module 'rows' (ktree_allreduce); 3 by ...".
  std::string held(Resource r) const;
  // Throws std::invalid_argument (as Program::attach does for queues and task IDs) for the first conflict, e.g.
  // "PE(3,1): input queue 2 claimed by module 'rows' (ktree_allreduce) and module 'cols' (ktree_allreduce)".
  void check(const std::string& pe) const;

 private:
  int index_of(const std::string& claimant);
  static constexpr std::size_t slot(Resource r, int id) { return std::size_t(int(r) * 8 + id); }  // TaskId last
  std::array<std::int8_t, 3 * 8 + 64> owner_ = [] {  // per number: index into names_, -1 free (88 bytes a PE)
    std::array<std::int8_t, 3 * 8 + 64> a{};
    a.fill(-1);
    return a;
  }();
  std::vector<const std::string*> names_;  // interned (common/intern.hpp)
  struct Conflict {
    Resource r;
    std::int8_t id, first, second;
  };
  std::vector<Conflict> conflicts_;
};

}  // namespace wafersim::csl
