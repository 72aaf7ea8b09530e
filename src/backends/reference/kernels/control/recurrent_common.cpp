#include "backends/reference/kernels/control/recurrent_common.h"

#include <cmath>

#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

double RecurrentActivation::operator()(double x) const {
  switch (kind) {
    case Kind::kRelu: return x > 0 ? x : 0;
    case Kind::kTanh: return std::tanh(x);
    case Kind::kSigmoid: return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
    case Kind::kAffine: return alpha * x + beta;
    case Kind::kLeakyRelu: return x >= 0 ? x : alpha * x;
    case Kind::kThresholdedRelu: return x > alpha ? x : 0;
    case Kind::kScaledTanh: return alpha * std::tanh(beta * x);
    case Kind::kHardSigmoid: {
      const double v = alpha * x + beta;
      return v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    case Kind::kElu: return x >= 0 ? x : alpha * (std::exp(x) - 1);
    case Kind::kSoftsign: return x / (1 + std::fabs(x));
    case Kind::kSoftplus: return x > 30 ? x : std::log1p(std::exp(x));
  }
  return x;
}

namespace {

using Kind = RecurrentActivation::Kind;

std::string lower(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  return out;
}

// Alphas and betas are consumed in order by the functions that take them (as onnxruntime does);
// a function whose value is not given uses the ONNX operator's default.
Result<RecurrentActivation> make_activation(const KernelContext& ctx, const std::string& name,
                                            const std::vector<float>& alphas, size_t& ai,
                                            const std::vector<float>& betas, size_t& bi) {
  RecurrentActivation a;
  const std::string n = lower(name);
  auto take_alpha = [&](double def) { a.alpha = ai < alphas.size() ? alphas[ai++] : def; };
  auto take_beta = [&](double def) { a.beta = bi < betas.size() ? betas[bi++] : def; };
  if (n == "relu") {
    a.kind = Kind::kRelu;
  } else if (n == "tanh") {
    a.kind = Kind::kTanh;
  } else if (n == "sigmoid") {
    a.kind = Kind::kSigmoid;
  } else if (n == "affine") {
    a.kind = Kind::kAffine;
    take_alpha(1.0);
    take_beta(0.0);
  } else if (n == "leakyrelu") {
    a.kind = Kind::kLeakyRelu;
    take_alpha(0.01);
  } else if (n == "thresholdedrelu") {
    a.kind = Kind::kThresholdedRelu;
    take_alpha(1.0);
  } else if (n == "scaledtanh") {
    a.kind = Kind::kScaledTanh;
    take_alpha(1.0);
    take_beta(1.0);
  } else if (n == "hardsigmoid") {
    a.kind = Kind::kHardSigmoid;
    take_alpha(0.2);
    take_beta(0.5);
  } else if (n == "elu") {
    a.kind = Kind::kElu;
    take_alpha(1.0);
  } else if (n == "softsign") {
    a.kind = Kind::kSoftsign;
  } else if (n == "softplus") {
    a.kind = Kind::kSoftplus;
  } else {
    return ctx.error(fmt::format("unknown activation function '{}'", name));
  }
  return a;
}

Status check_shape(const KernelContext& ctx, size_t i, const char* name, const Dims& want) {
  const Tensor* t = ctx.input(i);
  if (t && t->shape() != want) {
    return ctx.error(fmt::format("input {} '{}' has shape {}, expected {}", i, name, dims_to_string(t->shape()),
                                 dims_to_string(want)));
  }
  return ok_status();
}

Result<std::vector<double>> doubles_of(const KernelContext& ctx, size_t i, const char* name) {
  auto r = read_doubles(*ctx.input(i));
  if (!r.ok()) return ctx.error(fmt::format("input {} '{}': {}", i, name, r.status().message()));
  return r;
}

// Reads a state input ([dirs][batch][hidden], or [batch][dirs][hidden] for layout 1).
Result<std::vector<double>> state_of(const KernelContext& ctx, const RecurrentSetup& s, size_t i, const char* name) {
  std::vector<double> out(static_cast<size_t>(s.dirs * s.batch * s.hidden), 0.0);
  if (!ctx.has_input(i)) return out;
  const Dims want = s.layout == 0 ? Dims{s.dirs, s.batch, s.hidden} : Dims{s.batch, s.dirs, s.hidden};
  KILN_RETURN_IF_ERROR(check_shape(ctx, i, name, want));
  KILN_ASSIGN_OR_RETURN(std::vector<double> v, doubles_of(ctx, i, name));
  if (s.layout == 0) return v;
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t d = 0; d < s.dirs; ++d) {
      for (int64_t h = 0; h < s.hidden; ++h) {
        out[static_cast<size_t>((d * s.batch + b) * s.hidden + h)] =
            v[static_cast<size_t>((b * s.dirs + d) * s.hidden + h)];
      }
    }
  }
  return out;
}

}  // namespace

Result<RecurrentSetup> recurrent_setup(KernelContext& ctx, int64_t gates, const std::vector<std::string>& defaults) {
  RecurrentSetup s;
  const Tensor& x = *ctx.input(0);
  s.dtype = x.dtype();
  if (!dtype_is_float(s.dtype)) {
    return ctx.error(fmt::format("input 0 'X' has dtype {}, expected a float type", dtype_name(s.dtype)));
  }
  const std::string direction = ctx.attrs().get_string("direction", "forward");
  if (direction == "bidirectional") {
    s.dirs = 2;
  } else if (direction == "reverse") {
    s.reverse_only = true;
  } else if (direction != "forward") {
    return ctx.error(fmt::format("attribute 'direction' is '{}'", direction));
  }
  s.layout = ctx.attrs().get_int("layout", 0);
  if (s.layout != 0 && s.layout != 1) return ctx.error(fmt::format("attribute 'layout' is {}", s.layout));
  s.clip = ctx.attrs().has("clip") ? ctx.attrs().get_float("clip", 0) : 0.0;
  if (ctx.attrs().has("clip") && !(s.clip > 0)) return ctx.error("attribute 'clip' must be positive");

  if (x.rank() != 3) return ctx.error(fmt::format("input 0 'X' has shape {}, expected rank 3", dims_to_string(x.shape())));
  s.seq = x.dim(s.layout == 0 ? 0 : 1);
  s.batch = x.dim(s.layout == 0 ? 1 : 0);
  s.input = x.dim(2);
  const Tensor& r = *ctx.input(2);
  if (r.rank() != 3) return ctx.error(fmt::format("input 2 'R' has shape {}, expected rank 3", dims_to_string(r.shape())));
  s.hidden = ctx.attrs().get_int("hidden_size", r.dim(2));
  if (s.hidden <= 0 && !(s.hidden == 0 && r.dim(2) == 0)) {
    return ctx.error(fmt::format("hidden_size is {}", s.hidden));
  }
  const int64_t gh = gates * s.hidden;
  KILN_RETURN_IF_ERROR(check_shape(ctx, 1, "W", {s.dirs, gh, s.input}));
  KILN_RETURN_IF_ERROR(check_shape(ctx, 2, "R", {s.dirs, gh, s.hidden}));
  KILN_RETURN_IF_ERROR(check_shape(ctx, 3, "B", {s.dirs, 2 * gh}));
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (i != 4 && ctx.has_input(i) && ctx.input(i)->dtype() != s.dtype) {
      return ctx.error(fmt::format("input {} has dtype {}, expected {} like X", i, dtype_name(ctx.input(i)->dtype()),
                                   dtype_name(s.dtype)));
    }
  }

  KILN_ASSIGN_OR_RETURN(std::vector<double> xv, doubles_of(ctx, 0, "X"));
  if (s.layout == 0) {
    s.x = std::move(xv);
  } else {
    s.x.resize(xv.size());
    for (int64_t b = 0; b < s.batch; ++b) {
      for (int64_t t = 0; t < s.seq; ++t) {
        for (int64_t i = 0; i < s.input; ++i) {
          s.x[static_cast<size_t>((t * s.batch + b) * s.input + i)] = xv[static_cast<size_t>((b * s.seq + t) * s.input + i)];
        }
      }
    }
  }
  KILN_ASSIGN_OR_RETURN(s.w, doubles_of(ctx, 1, "W"));
  KILN_ASSIGN_OR_RETURN(s.r, doubles_of(ctx, 2, "R"));
  if (ctx.has_input(3)) {
    KILN_ASSIGN_OR_RETURN(s.b, doubles_of(ctx, 3, "B"));
  } else {
    s.b.assign(static_cast<size_t>(s.dirs * 2 * gh), 0.0);
  }
  s.lens.assign(static_cast<size_t>(s.batch), s.seq);
  if (ctx.has_input(4)) {
    const Tensor& l = *ctx.input(4);
    if (l.dtype() != DataType::kInt32) {
      return ctx.error(fmt::format("input 4 'sequence_lens' has dtype {}, expected int32", dtype_name(l.dtype())));
    }
    KILN_RETURN_IF_ERROR(check_shape(ctx, 4, "sequence_lens", {s.batch}));
    for (int64_t b = 0; b < s.batch; ++b) {
      const int32_t v = l.data_as<int32_t>()[b];
      if (v < 0 || v > s.seq) {
        return ctx.error(fmt::format("sequence_lens[{}] is {}, outside [0, {}]", b, v, s.seq));
      }
      s.lens[static_cast<size_t>(b)] = v;
    }
  }
  KILN_ASSIGN_OR_RETURN(s.h0, state_of(ctx, s, 5, "initial_h"));
  if (gates == 4) {
    KILN_ASSIGN_OR_RETURN(s.c0, state_of(ctx, s, 6, "initial_c"));
    if (ctx.has_input(7)) {
      KILN_RETURN_IF_ERROR(check_shape(ctx, 7, "P", {s.dirs, 3 * s.hidden}));
      KILN_ASSIGN_OR_RETURN(s.p, doubles_of(ctx, 7, "P"));
    } else {
      s.p.assign(static_cast<size_t>(s.dirs * 3 * s.hidden), 0.0);
    }
  }

  std::vector<std::string> names = defaults;
  if (s.dirs == 2) names.insert(names.end(), defaults.begin(), defaults.end());
  if (ctx.attrs().has("activations")) {
    names = ctx.attrs().find("activations")->strings;
    // A bidirectional node that lists one direction's functions uses them for both.
    if (s.dirs == 2 && names.size() == defaults.size()) names.insert(names.end(), names.begin(), names.end());
    if (names.size() != defaults.size() * static_cast<size_t>(s.dirs)) {
      return ctx.error(fmt::format("attribute 'activations' has {} names, expected {}", names.size(),
                                   defaults.size() * static_cast<size_t>(s.dirs)));
    }
  }
  const std::vector<float> alphas = ctx.attrs().get_floats("activation_alpha");
  const std::vector<float> betas = ctx.attrs().get_floats("activation_beta");
  size_t ai = 0, bi = 0;
  s.activations.resize(static_cast<size_t>(s.dirs));
  for (size_t k = 0; k < names.size(); ++k) {
    KILN_ASSIGN_OR_RETURN(RecurrentActivation a, make_activation(ctx, names[k], alphas, ai, betas, bi));
    s.activations[k / defaults.size()].push_back(a);
  }
  return s;
}

Status recurrent_store(KernelContext& ctx, const RecurrentSetup& s, const std::vector<double>& y,
                       const std::vector<const std::vector<double>*>& states) {
  auto store = [&](size_t out, const Dims& dims, auto&& index_of) -> Status {
    KILN_ASSIGN_OR_RETURN(Tensor * t, ctx.allocate_output(out, s.dtype, dims));
    return dispatch_float(s.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = t->data_as<T>();
      for (int64_t i = 0; i < t->numel(); ++i) p[i] = static_cast<T>(static_cast<compute_t<T>>(index_of(i)));
      return ok_status();
    });
  };
  const Node& n = ctx.node();
  if (n.output(0)) {
    const Dims dims = s.layout == 0 ? Dims{s.seq, s.dirs, s.batch, s.hidden} : Dims{s.batch, s.seq, s.dirs, s.hidden};
    KILN_RETURN_IF_ERROR(store(0, dims, [&](int64_t i) {
      if (s.layout == 0) return y[static_cast<size_t>(i)];
      // i runs over [batch][seq][dirs][hidden]
      const int64_t h = i % s.hidden, d = (i / s.hidden) % s.dirs, t = (i / s.hidden / s.dirs) % s.seq,
                    b = i / s.hidden / s.dirs / s.seq;
      return y[static_cast<size_t>(((t * s.dirs + d) * s.batch + b) * s.hidden + h)];
    }));
  }
  for (size_t k = 0; k < states.size(); ++k) {
    if (!n.output(k + 1)) continue;
    const std::vector<double>& v = *states[k];
    const Dims dims = s.layout == 0 ? Dims{s.dirs, s.batch, s.hidden} : Dims{s.batch, s.dirs, s.hidden};
    KILN_RETURN_IF_ERROR(store(k + 1, dims, [&](int64_t i) {
      if (s.layout == 0) return v[static_cast<size_t>(i)];
      const int64_t h = i % s.hidden, d = (i / s.hidden) % s.dirs, b = i / s.hidden / s.dirs;
      return v[static_cast<size_t>((d * s.batch + b) * s.hidden + h)];
    }));
  }
  return ok_status();
}

}  // namespace kiln
