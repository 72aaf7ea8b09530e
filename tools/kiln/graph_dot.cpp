#include "graph_dot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "fmt/format.h"

extern char** environ;

namespace kiln::cli {

namespace {

// A DOT string literal: quotes and backslashes escaped (so a name can never start a DOT escape
// such as \N), newlines as DOT's centred line break.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string io_type(const IoInfo& io) { return fmt::format("{}[{}]", dtype_name(io.dtype), io.shape_string()); }

bool is_fused(const LayerInfo& l) {
  return l.fused_from.size() > 1 || l.op.find('.') != std::string::npos;
}

std::string layer_label(const LayerInfo& l) {
  std::string label = l.op;
  if (!l.detail.empty()) label += "\n" + l.detail;
  for (const std::string& t : l.output_types) label += "\n" + t;
  size_t weights = 0;
  for (size_t i = 0; i < l.input_is_weight.size(); ++i) weights += l.input_is_weight[i] ? 1 : 0;
  if (weights) label += fmt::format("\n{} weight{}", weights, weights == 1 ? "" : "s");
  return label;
}

// Hovering a box in the SVG shows the layer's name and the ONNX nodes it stands for.
std::string layer_tooltip(const LayerInfo& l) {
  std::string t = l.name;
  if (!l.fused_from.empty() && !(l.fused_from.size() == 1 && l.fused_from[0] == l.name)) {
    t += fmt::format("\nfrom {} ONNX node{}:", l.fused_from.size(), l.fused_from.size() == 1 ? "" : "s");
    for (const std::string& f : l.fused_from) t += "\n" + f;
  }
  return t;
}

std::string lowercase_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

Status write_all(int fd, const std::string& bytes, const std::string& what) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error(fmt::format("cannot write {}: {}", what, std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

// The first line `dot` printed on stderr, for an error message that stays one line.
std::string first_line(std::FILE* f) {
  std::rewind(f);
  char buf[512] = {};
  if (!std::fgets(buf, sizeof buf, f)) return "";
  std::string s = buf;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Runs `dot -T<format>` with `dot_text` on stdin and its output going to `out_fd`.
Status run_dot(const std::string& dot_text, const std::string& format, int out_fd) {
  int in_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return io_error(fmt::format("cannot run 'dot': {}", std::strerror(errno)));
  std::FILE* err_file = std::tmpfile();  // dot's stderr, so its complaints do not reach ours
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_file) posix_spawn_file_actions_adddup2(&fa, ::fileno(err_file), 2);
  else posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::string arg0 = "dot", arg1 = "-T" + format;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "dot", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    if (err_file) std::fclose(err_file);
    if (rc == ENOENT) return not_found("--graph needs Graphviz's 'dot' (apt-get install graphviz)");
    return io_error(fmt::format("cannot run Graphviz's 'dot': {}", std::strerror(rc)));
  }
  // If dot exits early (bad input), writing to its stdin fails with EPIPE; without this the
  // SIGPIPE would kill kiln instead of letting it report dot's own message.
  void (*previous)(int) = std::signal(SIGPIPE, SIG_IGN);
  const Status written = write_all(in_pipe[1], dot_text, "the graph to 'dot'");
  ::close(in_pipe[1]);
  if (previous != SIG_ERR) std::signal(SIGPIPE, previous);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string complaint = err_file ? first_line(err_file) : "";
  if (err_file) std::fclose(err_file);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return io_error(fmt::format("Graphviz's 'dot -T{}' failed{}{}", format, complaint.empty() ? "" : ": ", complaint));
  }
  return written;
}

}  // namespace

std::string engine_graph_dot(const EngineInfo& info) {
  std::string out = "digraph kiln {\n";
  out += "  graph [rankdir=TB, fontname=\"Helvetica\", label=" +
         quoted(fmt::format("{}: {} layers from {} ONNX nodes, backend {}", info.source_name, info.layers.size(),
                            info.onnx_nodes, info.backend)) +
         ", labelloc=t];\n";
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n";

  // Where each value comes from: a graph input or a layer's output.
  std::map<std::string, std::string> producer;
  std::map<std::string, std::string> produced_type;
  for (size_t k = 0; k < info.inputs.size(); ++k) {
    const IoInfo& io = info.inputs[k];
    const std::string id = fmt::format("in{}", k);
    producer[io.name] = id;
    produced_type[io.name] = io_type(io);
    out += fmt::format("  {} [shape=ellipse, style=filled, fillcolor=\"#e8f4e8\", label={}];\n", id,
                       quoted(io.name + "\n" + io_type(io)));
  }
  for (size_t i = 0; i < info.layers.size(); ++i) {
    const LayerInfo& l = info.layers[i];
    const std::string id = fmt::format("L{}", i);
    out += fmt::format("  {} [shape=box, style=\"rounded,filled\", fillcolor={}, label={}, tooltip={}];\n", id,
                       is_fused(l) ? "\"#dbe9f6\"" : "\"#f2f2f2\"", quoted(layer_label(l)), quoted(layer_tooltip(l)));
    for (size_t o = 0; o < l.outputs.size(); ++o) {
      if (l.outputs[o].empty()) continue;
      producer[l.outputs[o]] = id;
      produced_type[l.outputs[o]] = o < l.output_types.size() ? l.output_types[o] : "";
    }
  }

  // A value with no producer that is not a weight cannot occur in a verified graph; it is still
  // drawn (dashed) rather than dropped, so the picture never hides an edge.
  size_t orphans = 0;
  auto source_of = [&](const std::string& name, const std::string& type) {
    auto it = producer.find(name);
    if (it != producer.end()) return it->second;
    const std::string id = fmt::format("v{}", orphans++);
    out += fmt::format("  {} [shape=ellipse, style=dashed, label={}];\n", id, quoted(name + "\n" + type));
    producer[name] = id;
    return id;
  };

  for (size_t i = 0; i < info.layers.size(); ++i) {
    const LayerInfo& l = info.layers[i];
    std::set<std::string> drawn;  // a value read twice (Mul(x, x)) is one edge
    for (size_t k = 0; k < l.inputs.size(); ++k) {
      const std::string& name = l.inputs[k];
      const bool weight = k < l.input_is_weight.size() && l.input_is_weight[k];
      if (name.empty() || weight || !drawn.insert(name).second) continue;
      const std::string type = k < l.input_types.size() ? l.input_types[k] : "";
      out += fmt::format("  {} -> L{} [label={}];\n", source_of(name, type), i, quoted(type));
    }
  }
  for (size_t k = 0; k < info.outputs.size(); ++k) {
    const IoInfo& io = info.outputs[k];
    const std::string id = fmt::format("out{}", k);
    out += fmt::format("  {} [shape=ellipse, style=filled, fillcolor=\"#f6e8d8\", label={}];\n", id,
                       quoted(io.name + "\n" + io_type(io)));
    const auto type = produced_type.count(io.name) ? produced_type[io.name] : io_type(io);
    out += fmt::format("  {} -> {} [label={}];\n", source_of(io.name, type), id, quoted(type));
  }
  return out + "}\n";
}

Status check_graph_path(const std::string& path) {
  const std::string ext = lowercase_extension(path);
  if (ext == ".dot" || ext == ".svg" || ext == ".png") return ok_status();
  if (ext.empty()) return invalid_argument(fmt::format("--graph '{}': name the file .svg, .png or .dot", path));
  return invalid_argument(fmt::format("--graph '{}': unknown file type '{}' (use .svg, .png or .dot)", path, ext));
}

Status write_engine_graph(const EngineInfo& info, const std::string& path) {
  KILN_RETURN_IF_ERROR(check_graph_path(path));
  const std::string ext = lowercase_extension(path);
  const std::string dot_text = engine_graph_dot(info);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  Status s = ext == ".dot" ? write_all(fd, dot_text, fmt::format("'{}'", path)) : run_dot(dot_text, ext.substr(1), fd);
  if (::close(fd) != 0 && s.ok()) s = io_error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    s = io_error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  }
  if (!s.ok()) std::remove(tmp.c_str());
  return s;
}

}  // namespace kiln::cli
