// Harness cases for the indexing family: gathers and scatters (negative indices, each dtype,
// reductions), NonZero / Compress / Unique, Resize and Upsample (modes, coordinate transforms,
// scales vs sizes, axes, antialias), GridSample, AffineGrid, RoiAlign, NonMaxSuppression, Col2Im.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

// Built field by field: brace-initializing CaseInput with fewer fields trips
// -Wmissing-field-initializers (an error under -Werror).
CaseInput input(DataType t, Dims dims, Fill fill = Fill::kRandom, std::vector<double> values = {},
                bool constant = false, bool omitted = false) {
  CaseInput in;
  in.dtype = t;
  in.dims = std::move(dims);
  in.fill = fill;
  in.values = std::move(values);
  in.constant = constant;
  in.omitted = omitted;
  return in;
}

CaseInput values(DataType t, Dims dims, std::vector<double> v, bool constant = true) {
  return input(t, std::move(dims), Fill::kValues, std::move(v), constant);
}

CaseInput vec(DataType t, std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return values(t, {n}, std::move(v));
}


Case make(const std::string& name, const std::string& op, int opset, std::vector<CaseInput> inputs,
          std::function<void(Attributes&)> attrs = {}, size_t num_outputs = 1) {
  Case c;
  c.name = name;
  c.op_type = op;
  c.opset = opset;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.num_outputs = num_outputs;
  for (const CaseInput& in : c.inputs) {
    if (in.dtype == DataType::kFloat16 || in.dtype == DataType::kBFloat16) c.tolerance = 1e-2;
  }
  return c;
}

const DataType kAllTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64,
                              DataType::kInt8,    DataType::kInt16,   DataType::kInt32,    DataType::kInt64,
                              DataType::kUInt8,   DataType::kUInt16,  DataType::kUInt32,   DataType::kUInt64,
                              DataType::kBool};
const DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64};


void gather_cases(std::vector<Case>& cases) {
  for (DataType t : kAllTypes) {
    cases.push_back(make("Gather_" + tn(t) + "_axis1_5x7x11x13", "Gather", 13,
                         {input(t, {5, 7, 11, 13}), values(DataType::kInt64, {3, 2}, {0, -1, 3, 6, 2, -7})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
  }
  cases.push_back(make("Gather_f32_int32idx_axisneg1", "Gather", 13,
                       {input(DataType::kFloat32, {5, 7, 11}), values(DataType::kInt32, {4}, {10, -11, 0, 5})},
                       [](Attributes& a) { a.set_int("axis", -1); }));
  cases.push_back(make("Gather_f32_scalar_index", "Gather", 13,
                       {input(DataType::kFloat32, {5, 7, 11}), values(DataType::kInt64, {}, {-2})}));
  cases.push_back(make("Gather_f32_runtime_indices", "Gather", 13,
                       {input(DataType::kFloat32, {9, 4}), values(DataType::kInt64, {2, 3}, {8, 0, -9, 4, 4, 1}, false)}));
  cases.push_back(make("Gather_f32_empty_indices", "Gather", 13,
                       {input(DataType::kFloat32, {5, 7}), values(DataType::kInt64, {0}, {})},
                       [](Attributes& a) { a.set_int("axis", 1); }));

  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kInt32, DataType::kBool}) {
    cases.push_back(make("GatherElements_" + tn(t) + "_axis1_5x7x11", "GatherElements", 13,
                         {input(t, {5, 7, 11}), values(DataType::kInt64, {5, 3, 11}, {0, -1, 6, 3, -7, 2, 5})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
  }
  cases.push_back(make("GatherElements_f32_axis0_int32", "GatherElements", 13,
                       {input(DataType::kFloat32, {4, 6}), values(DataType::kInt32, {2, 6}, {3, 0, -1, 2, 1, -4})}));

  for (DataType t : {DataType::kFloat32, DataType::kInt64, DataType::kUInt8, DataType::kFloat16}) {
    cases.push_back(make("GatherND_" + tn(t) + "_k2_3x4x5x6", "GatherND", 13,
                         {input(t, {3, 4, 5, 6}), values(DataType::kInt64, {2, 3, 2}, {0, 1, 2, 3, -1, -1, 1, 0, 2, -4, 0, -3})}));
  }
  cases.push_back(make("GatherND_f32_batch1", "GatherND", 13,
                       {input(DataType::kFloat32, {2, 3, 4, 5}), values(DataType::kInt64, {2, 3, 2}, {0, 1, 2, 3, 1, -1})},
                       [](Attributes& a) { a.set_int("batch_dims", 1); }));
  cases.push_back(make("GatherND_f32_full_index", "GatherND", 13,
                       {input(DataType::kFloat32, {3, 4}), values(DataType::kInt64, {5, 2}, {0, 0, 2, 3, -1, -1, 1, 2, 0, 3})}));
}

void scatter_cases(std::vector<Case>& cases) {
  // Distinct positions along the axis in each column so reduction 'none' does not depend on order.
  const std::vector<double> perm_idx = {0, 3, -1, 5, 2, 1, -3};
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt32,
                     DataType::kInt8, DataType::kUInt16, DataType::kBool}) {
    cases.push_back(make("ScatterElements_" + tn(t) + "_axis1", "ScatterElements", 18,
                         {input(t, {5, 7, 11}), values(DataType::kInt64, {5, 1, 11}, perm_idx), input(t, {5, 1, 11})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
  }
  for (const char* red : {"add", "mul", "max", "min"}) {
    for (DataType t : {DataType::kFloat32, DataType::kInt32, DataType::kFloat16}) {
      cases.push_back(make(std::string("ScatterElements_") + tn(t) + "_" + red + "_dups", "ScatterElements", 18,
                           {input(t, {6, 9}), values(DataType::kInt64, {4, 9}, {0, 5, -1, 2, 2, 0, 3}), input(t, {4, 9})},
                           [red](Attributes& a) { a.set_string("reduction", red); }));
    }
  }
  cases.push_back(make("Scatter_f32_opset9", "Scatter", 9,
                       {input(DataType::kFloat32, {4, 5}), values(DataType::kInt64, {4, 2}, {1, 0, 3, 4, 2, 1, 0, 3}),
                        input(DataType::kFloat32, {4, 2})},
                       [](Attributes& a) { a.set_int("axis", 1); }));
  cases.push_back(make("ScatterElements_f32_int32_runtime_indices", "ScatterElements", 16,
                       {input(DataType::kFloat32, {3, 8}), values(DataType::kInt32, {3, 2}, {7, -8, 0, 1, 4, 5}, false),
                        input(DataType::kFloat32, {3, 2})},
                       [](Attributes& a) { a.set_int("axis", -1); }));

  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kInt64, DataType::kUInt8, DataType::kBool}) {
    cases.push_back(make("ScatterND_" + tn(t) + "_slices", "ScatterND", 18,
                         {input(t, {4, 5, 6}), values(DataType::kInt64, {3, 1}, {0, -2, 3}), input(t, {3, 5, 6})}));
  }
  for (const char* red : {"add", "mul", "max", "min"}) {
    cases.push_back(make(std::string("ScatterND_f32_") + red + "_dups", "ScatterND", 18,
                         {input(DataType::kFloat32, {4, 5, 6}), values(DataType::kInt64, {4, 2}, {0, 1, 3, 4, 0, 1, -1, 0}),
                          input(DataType::kFloat32, {4, 6})},
                         [red](Attributes& a) { a.set_string("reduction", red); }));
  }
}

void selection_cases(std::vector<Case>& cases) {
  for (DataType t : {DataType::kFloat32, DataType::kInt32, DataType::kBool, DataType::kFloat16, DataType::kUInt8}) {
    cases.push_back(make("NonZero_" + tn(t) + "_5x7x11", "NonZero", 13, {input(t, {5, 7, 11})}));
  }
  cases.push_back(make("NonZero_int32_scalar", "NonZero", 13, {values(DataType::kInt32, {}, {3}, false)}));
  cases.push_back(make("NonZero_f32_empty", "NonZero", 13, {input(DataType::kFloat32, {3, 0})}));

  for (DataType t : {DataType::kFloat32, DataType::kInt64, DataType::kBool, DataType::kBFloat16}) {
    cases.push_back(make("Compress_" + tn(t) + "_axis1", "Compress", 11,
                         {input(t, {5, 7, 11}), values(DataType::kBool, {7}, {1, 0, 1, 1, 0, 0, 1})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
  }
  cases.push_back(make("Compress_f32_flat_short_condition", "Compress", 11,
                       {input(DataType::kFloat32, {5, 7}), values(DataType::kBool, {20}, {0, 1, 1}, false)}));
  cases.push_back(make("Compress_f32_negative_axis", "Compress", 11,
                       {input(DataType::kFloat32, {4, 6}), values(DataType::kBool, {5}, {1, 1, 0, 1, 0})},
                       [](Attributes& a) { a.set_int("axis", -1); }));

  for (int sorted : {0, 1}) {
    const std::string s = sorted ? "sorted" : "unsorted";
    for (DataType t : {DataType::kInt32, DataType::kFloat32, DataType::kInt8}) {
      cases.push_back(make("Unique_" + tn(t) + "_" + s, "Unique", 11,
                           {values(t, {4, 9}, {3, -1, 2, 3, 0, -1, 4, 4, 2, 7, -5}, false)},
                           [sorted](Attributes& a) { a.set_int("sorted", sorted); }, 4));
    }
    cases.push_back(make("Unique_int64_axis0_" + s, "Unique", 11,
                         {values(DataType::kInt64, {6, 3}, {1, 2, 3, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0, 0, 1, 4, 5, 6}, false)},
                         [sorted](Attributes& a) {
                           a.set_int("sorted", sorted);
                           a.set_int("axis", 0);
                         },
                         4));
    cases.push_back(make("Unique_f32_axisneg1_" + s, "Unique", 11,
                         {values(DataType::kFloat32, {2, 5}, {1, 2, 1, 3, 2, 4, 5, 4, 6, 5}, false)},
                         [sorted](Attributes& a) {
                           a.set_int("sorted", sorted);
                           a.set_int("axis", -1);
                         },
                         4));
  }
  cases.push_back(make("Unique_f32_y_only", "Unique", 11, {input(DataType::kFloat32, {3, 7})}));
}

void resize_cases(std::vector<Case>& cases) {
  const CaseInput empty_roi = input(DataType::kFloat32, {0}, Fill::kRandom, {}, true);
  auto scales = [](std::vector<double> v) { return vec(DataType::kFloat32, std::move(v)); };
  auto sizes = [](std::vector<double> v) { return vec(DataType::kInt64, std::move(v)); };
  struct Mode {
    const char* mode;
    const char* coord;
  };
  const Mode modes[] = {{"nearest", "half_pixel"},       {"nearest", "asymmetric"},       {"nearest", "align_corners"},
                        {"linear", "half_pixel"},        {"linear", "pytorch_half_pixel"}, {"linear", "align_corners"},
                        {"linear", "asymmetric"},        {"linear", "half_pixel_symmetric"}, {"cubic", "half_pixel"},
                        {"cubic", "align_corners"},      {"cubic", "asymmetric"}};
  for (const Mode& m : modes) {
    for (bool up : {true, false}) {
      const std::string name = std::string("Resize_f32_") + m.mode + "_" + m.coord + (up ? "_up" : "_down");
      const std::vector<double> s = up ? std::vector<double>{1, 1, 1.7, 2.4} : std::vector<double>{1, 1, 0.6, 0.45};
      cases.push_back(make(name, "Resize", 19, {input(DataType::kFloat32, {2, 3, 11, 13}), empty_roi, scales(s)},
                           [m](Attributes& a) {
                             a.set_string("mode", m.mode);
                             a.set_string("coordinate_transformation_mode", m.coord);
                           }));
    }
  }
  for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
    cases.push_back(make(std::string("Resize_f32_nearest_sizes_") + nm, "Resize", 13,
                         {input(DataType::kFloat32, {1, 2, 7, 9}), empty_roi, omitted(), sizes({1, 2, 12, 5})},
                         [nm](Attributes& a) { a.set_string("nearest_mode", nm); }));
  }
  cases.push_back(make("Resize_f32_cubic_exclude_outside_A05", "Resize", 13,
                       {input(DataType::kFloat32, {1, 2, 7, 9}), empty_roi, scales({1, 1, 1.5, 0.7})},
                       [](Attributes& a) {
                         a.set_string("mode", "cubic");
                         a.set_float("cubic_coeff_a", -0.5f);
                         a.set_int("exclude_outside", 1);
                       }));
  for (const char* mode : {"linear", "cubic"}) {
    cases.push_back(make(std::string("Resize_f32_") + mode + "_antialias_down", "Resize", 18,
                         {input(DataType::kFloat32, {1, 3, 16, 15}), empty_roi, scales({1, 1, 0.4, 0.6})},
                         [mode](Attributes& a) {
                           a.set_string("mode", mode);
                           a.set_int("antialias", 1);
                         }));
  }
  cases.push_back(make("Resize_f32_tf_crop_and_resize", "Resize", 13,
                       {input(DataType::kFloat32, {1, 1, 9, 11}), vec(DataType::kFloat32, {0, 0, 0.2, 0.3, 1, 1, 0.9, 1.2}),
                        omitted(), sizes({1, 1, 5, 6})},
                       [](Attributes& a) {
                         a.set_string("mode", "linear");
                         a.set_string("coordinate_transformation_mode", "tf_crop_and_resize");
                         a.set_float("extrapolation_value", 7.5f);
                       }));
  cases.push_back(make("Resize_f32_axes_3_2_sizes", "Resize", 18,
                       {input(DataType::kFloat32, {2, 3, 7, 9}), empty_roi, omitted(), sizes({5, 11})},
                       [](Attributes& a) {
                         a.set_string("mode", "linear");
                         a.set_ints("axes", {3, 2});
                       }));
  for (const char* policy : {"not_larger", "not_smaller"}) {
    cases.push_back(make(std::string("Resize_f32_keep_aspect_") + policy, "Resize", 18,
                         {input(DataType::kFloat32, {1, 2, 7, 9}), empty_roi, omitted(), sizes({12, 12})},
                         [policy](Attributes& a) {
                           a.set_ints("axes", {2, 3});
                           a.set_string("keep_aspect_ratio_policy", policy);
                         }));
  }
  for (DataType t : {DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kUInt8, DataType::kInt32}) {
    cases.push_back(make("Resize_" + tn(t) + "_linear", "Resize", 13,
                         {input(t, {1, 2, 5, 7}), empty_roi, scales({1, 1, 2, 1.5})},
                         [](Attributes& a) { a.set_string("mode", "linear"); }));
  }
  cases.push_back(make("Resize_f32_opset10_nearest", "Resize", 10, {input(DataType::kFloat32, {1, 2, 4, 5}), scales({1, 1, 2, 3})}));
  cases.push_back(make("Resize_f32_opset10_linear", "Resize", 10, {input(DataType::kFloat32, {1, 2, 4, 5}), scales({1, 1, 2.5, 1.5})},
                       [](Attributes& a) { a.set_string("mode", "linear"); }));
  cases.push_back(make("Resize_f32_3d_linear", "Resize", 13,
                       {input(DataType::kFloat32, {1, 1, 4, 5, 6}), empty_roi, scales({1, 1, 1.5, 0.8, 2})},
                       [](Attributes& a) { a.set_string("mode", "linear"); }));
  cases.push_back(make("Upsample_f32_opset9_nearest", "Upsample", 9, {input(DataType::kFloat32, {2, 3, 4, 5}), scales({1, 1, 2, 3})}));
  cases.push_back(make("Upsample_int32_opset7_nearest", "Upsample", 7, {input(DataType::kInt32, {2, 3, 4, 5})},
                       [](Attributes& a) { a.set_floats("scales", {1, 1, 3, 2}); }));
  cases.push_back(make("Upsample_f32_opset9_linear", "Upsample", 9, {input(DataType::kFloat32, {1, 2, 4, 5}), scales({1, 1, 2, 2.5})},
                       [](Attributes& a) { a.set_string("mode", "linear"); }));
}

void sampling_cases(std::vector<Case>& cases) {
  for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
    for (const char* pad : {"zeros", "border", "reflection"}) {
      for (int align : {0, 1}) {
        cases.push_back(make(std::string("GridSample_f32_") + mode + "_" + pad + "_align" + std::to_string(align),
                             "GridSample", 16, {input(DataType::kFloat32, {2, 3, 5, 7}), input(DataType::kFloat32, {2, 4, 6, 2})},
                             [mode, pad, align](Attributes& a) {
                               a.set_string("mode", mode);
                               a.set_string("padding_mode", pad);
                               a.set_int("align_corners", align);
                             }));
      }
    }
  }
  // Grid values beyond [-1, 1] exercise the padding modes.
  cases.push_back(make("GridSample_f32_outside_reflection", "GridSample", 16,
                       {input(DataType::kFloat32, {1, 2, 4, 5}),
                        values(DataType::kFloat32, {1, 3, 3, 2}, {-2.7, 1.3, 3.1, -1.6, 0.2, 0.9, -1.05, 4.4}, false)},
                       [](Attributes& a) { a.set_string("padding_mode", "reflection"); }));
  for (const char* mode : {"linear", "nearest", "cubic"}) {
    cases.push_back(make(std::string("GridSample_f32_3d_") + mode, "GridSample", 20,
                         {input(DataType::kFloat32, {1, 2, 4, 5, 6}), input(DataType::kFloat32, {1, 3, 2, 4, 3})},
                         [mode](Attributes& a) { a.set_string("mode", mode); }));
  }
  for (DataType t : {DataType::kFloat16, DataType::kFloat64}) {
    cases.push_back(make("GridSample_" + tn(t) + "_linear", "GridSample", 20, {input(t, {1, 2, 5, 6}), input(t, {1, 3, 4, 2})}));
  }

  for (DataType t : kFloats) {
    for (int align : {0, 1}) {
      cases.push_back(make("AffineGrid_" + tn(t) + "_2d_align" + std::to_string(align), "AffineGrid", 20,
                           {input(t, {2, 2, 3}), vec(DataType::kInt64, {2, 3, 5, 7})},
                           [align](Attributes& a) { a.set_int("align_corners", align); }));
    }
  }
  cases.push_back(make("AffineGrid_f32_3d", "AffineGrid", 20, {input(DataType::kFloat32, {2, 3, 4}), vec(DataType::kInt64, {2, 1, 3, 4, 5})}));

  const std::vector<double> rois = {0, 0, 5, 5, 1.5, 2, 9, 10.5, 3, 1, 4, 2, -1, -2, 14, 12};
  for (const char* mode : {"avg", "max"}) {
    for (const char* ctm : {"half_pixel", "output_half_pixel"}) {
      cases.push_back(make(std::string("RoiAlign_f32_") + mode + "_" + ctm, "RoiAlign", 16,
                           {input(DataType::kFloat32, {2, 3, 11, 13}), values(DataType::kFloat32, {4, 4}, rois, false),
                            values(DataType::kInt64, {4}, {0, 1, 1, 0}, false)},
                           [mode, ctm](Attributes& a) {
                             a.set_string("mode", mode);
                             a.set_string("coordinate_transformation_mode", ctm);
                             a.set_int("output_height", 3);
                             a.set_int("output_width", 4);
                           }));
    }
  }
  cases.push_back(make("RoiAlign_f64_sampling2_scale", "RoiAlign", 10,
                       {input(DataType::kFloat64, {1, 2, 8, 9}), values(DataType::kFloat64, {2, 4}, {0, 0, 10, 12, 4, 2, 8, 16}, false),
                        values(DataType::kInt64, {2}, {0, 0}, false)},
                       [](Attributes& a) {
                         a.set_int("sampling_ratio", 2);
                         a.set_float("spatial_scale", 0.5f);
                         a.set_int("output_height", 2);
                         a.set_int("output_width", 2);
                       }));

  for (int center : {0, 1}) {
    cases.push_back(make("NonMaxSuppression_f32_center" + std::to_string(center), "NonMaxSuppression", 11,
                         {input(DataType::kFloat32, {2, 12, 4}), input(DataType::kFloat32, {2, 3, 12}), vec(DataType::kInt64, {4}),
                          vec(DataType::kFloat32, {0.3}), vec(DataType::kFloat32, {-0.2})},
                         [center](Attributes& a) { a.set_int("center_point_box", center); }));
  }
  cases.push_back(make("NonMaxSuppression_f32_no_thresholds", "NonMaxSuppression", 11,
                       {input(DataType::kFloat32, {1, 8, 4}), input(DataType::kFloat32, {1, 1, 8}), vec(DataType::kInt64, {8})}));

  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kInt32}) {
    cases.push_back(make("Col2Im_" + tn(t) + "_5x7_block2x2", "Col2Im", 18,
                         {input(t, {2, 12, 24}), vec(DataType::kInt64, {5, 7}), vec(DataType::kInt64, {2, 2})}));
  }
  cases.push_back(make("Col2Im_f32_strides_pads_dilations", "Col2Im", 18,
                       {input(DataType::kFloat32, {1, 6, 6}), vec(DataType::kInt64, {6, 7}), vec(DataType::kInt64, {2, 3})},
                       [](Attributes& a) {
                         a.set_ints("strides", {2, 2});
                         a.set_ints("pads", {1, 0, 0, 1});
                         a.set_ints("dilations", {1, 2});
                       }));
}

// Gather for the cpu kernel: the embedding lookup (axis 0 on a table, one row per token, 1024 of
// them in parallel), int32 and negative indices, gathers along a middle and the last axis (one element
// per index), 8-byte and 1-byte elements, a scalar index and indices on an empty table axis.
void gather_kernel_cases(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  // Token ids in [-vocab, vocab): every third one negative.
  auto tokens = [](int64_t vocab) {
    std::vector<double> t;
    for (int64_t i = 0; i < 8 * 128; ++i) t.push_back(static_cast<double>((i * 131) % vocab - (i % 3 == 0 ? vocab : 0)));
    return t;
  };
  cases.push_back(make("Gather_f32_embedding_1000x64", "Gather", 13,
                       {input(f, {1000, 64}, Fill::kRandom, {}, true), values(DataType::kInt64, {8, 128}, tokens(1000), false)}));
  cases.push_back(make("Gather_f32_embedding_int32_500x96", "Gather", 13,
                       {input(f, {500, 96}, Fill::kRandom, {}, true), values(DataType::kInt32, {2, 256}, tokens(500), false)},
                       [](Attributes& a) { a.set_int("axis", 0); }));
  cases.push_back(make("Gather_f32_middle_axis_6x9x33", "Gather", 13,
                       {input(f, {6, 9, 33}), values(DataType::kInt64, {5}, {8, -9, 0, 4, 4})},
                       [](Attributes& a) { a.set_int("axis", -2); }));
  cases.push_back(make("Gather_i64_last_axis_64x300", "Gather", 13,
                       {input(DataType::kInt64, {64, 300}), values(DataType::kInt32, {3, 7}, {299, -300, 5, 17, -1, 0, 150})},
                       [](Attributes& a) { a.set_int("axis", 1); }));
  cases.push_back(make("Gather_u8_last_axis_5x7", "Gather", 13,
                       {input(DataType::kUInt8, {5, 7}), values(DataType::kInt64, {4}, {6, -7, 3, 3})},
                       [](Attributes& a) { a.set_int("axis", -1); }));
  cases.push_back(make("Gather_f32_scalar_index_axis0_9x13", "Gather", 13,
                       {input(f, {9, 13}), values(DataType::kInt64, {}, {-9})}));
  cases.push_back(make("Gather_f32_empty_data_axis1_3x0x4", "Gather", 13,
                       {input(f, {3, 5, 0}), values(DataType::kInt64, {2}, {4, -5})},
                       [](Attributes& a) { a.set_int("axis", 1); }));
}

}  // namespace

void add_indexing_cases(std::vector<Case>& cases) {
  gather_cases(cases);
  gather_kernel_cases(cases);
  scatter_cases(cases);
  selection_cases(cases);
  resize_cases(cases);
  sampling_cases(cases);
}

}  // namespace kiln::harness
