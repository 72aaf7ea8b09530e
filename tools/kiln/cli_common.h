// Shared by the kiln subcommands: flag parsing helpers and model loading.
#pragma once

#include <map>
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

// Prints "kiln: error: <message>" and returns exit code 1.
int fail(const Status& s);

}  // namespace kiln::cli
