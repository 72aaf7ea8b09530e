#include "ir/ops/linalg/einsum_equation.h"

#include <cctype>
#include <map>

#include "fmt/format.h"

namespace kiln {
namespace {

// Parses one term ("ab...c"); an error for anything but letters and at most one "...".
Result<std::vector<int>> parse_term(const std::string& t, const std::string& eq) {
  std::vector<int> labels;
  bool ellipsis = false;
  for (size_t i = 0; i < t.size();) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '.') {
      if (t.compare(i, 3, "...") != 0 || ellipsis) {
        return invalid_argument(
            fmt::format("equation '{}' has a malformed ellipsis in term '{}'", eq, t));
      }
      ellipsis = true;
      labels.push_back(EinsumEquation::kEllipsis);
      i += 3;
    } else if (std::isalpha(c)) {
      labels.push_back(c);
      ++i;
    } else {
      return invalid_argument(fmt::format("equation '{}' has an invalid character '{}'", eq, t[i]));
    }
  }
  return labels;
}

}  // namespace

Result<EinsumEquation> parse_einsum(const std::string& eq_in, size_t num_inputs) {
  std::string eq;
  for (char c : eq_in) {
    if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
  }
  EinsumEquation e;
  const size_t arrow = eq.find("->");
  const std::string lhs = arrow == std::string::npos ? eq : eq.substr(0, arrow);
  e.explicit_output = arrow != std::string::npos;
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    const std::string term =
        lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    KILN_ASSIGN_OR_RETURN(std::vector<int> labels, parse_term(term, eq_in));
    e.inputs.push_back(std::move(labels));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (e.inputs.size() != num_inputs) {
    return invalid_argument(
        fmt::format("equation '{}' has {} operand terms but the node has {} inputs", eq_in,
                    e.inputs.size(), num_inputs));
  }
  std::map<int, int> counts;
  bool any_ellipsis = false;
  for (const auto& in : e.inputs) {
    for (int l : in) {
      if (l == EinsumEquation::kEllipsis) {
        any_ellipsis = true;
      } else {
        ++counts[l];
      }
    }
  }
  if (e.explicit_output) {
    const std::string rhs = eq.substr(arrow + 2);
    if (rhs.find("->") != std::string::npos || rhs.find(',') != std::string::npos) {
      return invalid_argument(fmt::format("equation '{}' has a malformed output term", eq_in));
    }
    KILN_ASSIGN_OR_RETURN(e.output, parse_term(rhs, eq_in));
    std::map<int, int> seen;
    for (int l : e.output) {
      if (l == EinsumEquation::kEllipsis) {
        if (!any_ellipsis) {
          return invalid_argument(fmt::format("equation '{}' has '...' in the output only", eq_in));
        }
        continue;
      }
      if (++seen[l] > 1) {
        return invalid_argument(
            fmt::format("equation '{}' repeats label '{}' in the output", eq_in, char(l)));
      }
      if (!counts.count(l)) {
        return invalid_argument(
            fmt::format("equation '{}' has output label '{}' in no input", eq_in, char(l)));
      }
    }
  } else {
    if (any_ellipsis) e.output.push_back(EinsumEquation::kEllipsis);
    for (const auto& [l, n] : counts) {  // std::map: char-code order
      if (n == 1) e.output.push_back(l);
    }
  }
  return e;
}

}  // namespace kiln
