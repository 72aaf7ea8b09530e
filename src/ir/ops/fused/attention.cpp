// kiln.Attention: multi-head scaled dot-product attention on Q [B, Sq, H*Dh], K [B, Sk, H*Dh],
// V [B, Sk, H*Dv] with an optional additive mask broadcastable to [B, H, Sq, Sk]; the heads are
// split from and merged back into the last dim, so Y is [B, Sq, H*Dv]. With qkv_packed = 1,
// input 0 is one QKV [B, S, 3E] holding Q, K and V side by side in its last dim (a merged QKV
// projection's output, read in place), inputs 1 and 2 are absent, and Y is [B, S, E].
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

// num_heads, scale and causal, which both forms share; returns num_heads.
Result<int64_t> check_attributes(const InferenceContext& ctx) {
  auto heads = ctx.attrs().require_int("num_heads");
  if (!heads.ok()) return ctx.error(heads.status().message());
  const int64_t H = *heads;
  if (H < 1) return ctx.error(fmt::format("attribute 'num_heads' is {}, expected >= 1", H));
  if (const Attribute* a = ctx.attrs().find("scale"); a && a->kind != Attribute::Kind::kFloat) {
    return ctx.error(fmt::format("attribute 'scale' is {} (expected {})", attribute_kind_name(a->kind),
                                 attribute_kind_name(Attribute::Kind::kFloat)));
  }
  const int64_t causal = ctx.attrs().get_int("causal", 0);
  if (causal != 0 && causal != 1) return ctx.error(fmt::format("attribute 'causal' is {}, expected 0 or 1", causal));
  return H;
}

// Input 3, when present: rank <= 4 and broadcasting to the scores [B, H, Sq, Sk].
Status check_mask(const InferenceContext& ctx, const SymShape& scores) {
  if (!ctx.has_input(3)) return ok_status();
  const MaybeShape& m = ctx.input_shape(3);
  if (m && m->size() > 4) {
    return ctx.error(fmt::format("input 3 'mask' has shape {}, expected rank <= 4 (broadcastable to "
                                 "[batch, num_heads, query length, key length])",
                                 shape_to_string(m)));
  }
  return check_broadcasts_into(ctx, m, scores, "input 3 'mask' (to [B, H, Sq, Sk])");
}

Status infer_separate(InferenceContext& ctx) {
  static const char* kNames[] = {"Q", "K", "V", "mask"};
  for (size_t i = 0; i < 3; ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} '{}' is required", i, kNames[i]));
  }
  KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"Q", "K", "V", "mask"}));
  KILN_ASSIGN_OR_RETURN(const int64_t H, check_attributes(ctx));
  for (size_t i = 0; i < 3; ++i) {
    const MaybeShape& sh = ctx.input_shape(i);
    if (sh && sh->size() != 3) {
      return ctx.error(fmt::format("input {} '{}' has shape {}, expected rank 3 [batch, sequence, heads * head size]",
                                   i, kNames[i], shape_to_string(sh)));
    }
    if (sh && (*sh)[2].is_known() && (*sh)[2].value % H != 0) {
      return ctx.error(fmt::format("input {} '{}' has shape {}: its last dim {} is not divisible by num_heads {}", i,
                                   kNames[i], shape_to_string(sh), (*sh)[2].value, H));
    }
  }
  const MaybeShape& q = ctx.input_shape(0);
  const MaybeShape& k = ctx.input_shape(1);
  const MaybeShape& v = ctx.input_shape(2);
  // Dims that must agree: (input a, dim, input b, dim, what).
  struct Same {
    size_t a, da, b, db;
    const char* what;
  };
  for (const Same& p : {Same{0, 0, 1, 0, "batch size"}, Same{0, 0, 2, 0, "batch size"},
                        Same{1, 1, 2, 1, "key sequence length"}, Same{0, 2, 1, 2, "hidden size (num_heads * head size)"}}) {
    const MaybeShape& sa = ctx.input_shape(p.a);
    const MaybeShape& sb = ctx.input_shape(p.b);
    if (!sa || !sb) continue;
    const Dim& x = (*sa)[p.da];
    const Dim& y = (*sb)[p.db];
    if (x.is_known() && y.is_known() && x.value != y.value) {
      return ctx.error(fmt::format("input {} '{}' {} and input {} '{}' {} disagree on the {}", p.a, kNames[p.a],
                                   shape_to_string(sa), p.b, kNames[p.b], shape_to_string(sb), p.what));
    }
  }
  // Where Q's batch dim is unknown, K's or V's may name it.
  Dim batch = q ? (*q)[0] : Dim::unknown();
  for (const MaybeShape* o : {&k, &v}) {
    if (!batch.is_known() && *o && ((*o)->at(0).is_known() || batch.symbol.empty())) batch = (*o)->at(0);
  }
  const Dim sq = q ? (*q)[1] : Dim::unknown();
  const Dim sk = k ? (*k)[1] : (v ? (*v)[1] : Dim::unknown());
  KILN_RETURN_IF_ERROR(check_mask(ctx, SymShape{batch, Dim::known(H), sq, sk}));
  ctx.set_output(0, ctx.input_dtype(0), SymShape{batch, sq, v ? (*v)[2] : Dim::unknown()});
  return ok_status();
}

// qkv_packed = 1: Q, K, V are columns [0, E), [E, 2E), [2E, 3E) of input 0, so Sq = Sk = S and
// Dh = Dv = E / H.
Status infer_packed(InferenceContext& ctx) {
  if (!ctx.has_input(0)) return ctx.error("input 0 'QKV' is required");
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (ctx.has_input(i)) {
      return ctx.error(fmt::format("input {} '{}' must be absent with qkv_packed = 1 (Q, K and V are column ranges of "
                                   "input 0 'QKV')",
                                   i, i == 1 ? "K" : "V"));
    }
  }
  KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"QKV", "K", "V", "mask"}));
  KILN_ASSIGN_OR_RETURN(const int64_t H, check_attributes(ctx));
  const MaybeShape& qkv = ctx.input_shape(0);
  if (qkv && qkv->size() != 3) {
    return ctx.error(fmt::format("input 0 'QKV' has shape {}, expected rank 3 [batch, sequence, 3 * heads * head size] "
                                 "with qkv_packed = 1",
                                 shape_to_string(qkv)));
  }
  Dim hidden = Dim::unknown();
  if (qkv && (*qkv)[2].is_known()) {
    const int64_t last = (*qkv)[2].value;
    if (last % 3 != 0) {
      return ctx.error(fmt::format("input 0 'QKV' has shape {}: its last dim {} is not 3 equal parts (Q, K, V) with "
                                   "qkv_packed = 1",
                                   shape_to_string(qkv), last));
    }
    if ((last / 3) % H != 0) {
      return ctx.error(fmt::format("input 0 'QKV' has shape {}: its hidden size {} (a third of the last dim) is not "
                                   "divisible by num_heads {}",
                                   shape_to_string(qkv), last / 3, H));
    }
    hidden = Dim::known(last / 3);
  }
  const Dim batch = qkv ? (*qkv)[0] : Dim::unknown();
  const Dim seq = qkv ? (*qkv)[1] : Dim::unknown();
  KILN_RETURN_IF_ERROR(check_mask(ctx, SymShape{batch, Dim::known(H), seq, seq}));
  ctx.set_output(0, ctx.input_dtype(0), SymShape{batch, seq, hidden});
  return ok_status();
}

}  // namespace

void register_attention(OpRegistry& r) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = "Attention";
  s.since_version = 1;
  s.min_inputs = 1;  // the packed form may leave K, V and the mask out altogether
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const int64_t packed = ctx.attrs().get_int("qkv_packed", 0);
    if (packed != 0 && packed != 1) {
      return ctx.error(fmt::format("attribute 'qkv_packed' is {}, expected 0 or 1", packed));
    }
    return packed == 1 ? infer_packed(ctx) : infer_separate(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
