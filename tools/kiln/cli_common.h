// Shared by the kiln subcommands: flag parsing helpers and model loading.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::cli {

// "x:1x3x224x224,mask:1x128" -> {x: [1,3,224,224], mask: [1,128]}. The name may contain ':'
// (the last one separates it from the dims). An error names the malformed item.
Result<std::map<std::string, Dims>> parse_shapes(const std::string& spec, const std::string& flag);

// True when the file starts with the engine magic.
bool is_engine_file(const std::string& path);

// An engine from a .kiln file, or built in memory from an ONNX file with `config`.
Result<Engine> load_or_build(const std::string& path, const BuilderConfig& config);

// An input or expected-output file: .npy, or an ONNX TensorProto (.pb, as in ONNX test data).
Result<Tensor> read_tensor_file(const std::string& path);

// Seeded random data of `io`'s dtype at `dims`: uniform [0, 1) for floats, 0..9 for integers (so
// index inputs stay valid), coin flips for bool.
Result<Tensor> random_tensor(const IoInfo& io, const Dims& dims, std::mt19937_64& rng);

// The inputs for running `engine` (`kiln run`, `kiln bench`): each --input NAME=FILE spec read from
// its file, every other input random (seeded with `seed`, in engine input order) at its fixed
// shape or the one `shapes` gives; an input left with a symbolic dim is an error naming it.
Result<NamedTensors> prepare_inputs(const Engine& engine, const std::vector<std::string>& input_specs,
                                    const std::map<std::string, Dims>& shapes, uint64_t seed);

// Prints "kiln: error: <message>" and returns exit code 1.
int fail(const Status& s);

}  // namespace kiln::cli
