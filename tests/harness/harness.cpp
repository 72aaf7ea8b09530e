// The harness's case table: every family's cases in one list (the runner is in harness_test.cpp).
#include "harness/harness.h"

namespace kiln::harness {

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  add_elementwise_cases(cases);
  add_binary_cases(cases);
  add_reduction_cases(cases);
  add_linalg_cases(cases);
  add_pool_norm_cases(cases);
  add_tensor_cases(cases);
  add_indexing_cases(cases);
  add_control_cases(cases);
  add_fused_cases(cases);
  return cases;
}

}  // namespace kiln::harness
