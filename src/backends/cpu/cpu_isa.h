// Which vector instruction set kiln's own cpu kernels use, chosen at run time from the CPU's
// flags: each kernel has an AVX-512 and an AVX2 body (compiled with per-function target
// attributes, so the binary runs on any x86-64) and a portable one.
//
// KILN_CPU_ISA=avx2 or =scalar lowers the choice (never raises it), so the AVX2 and portable
// bodies are tested on an AVX-512 machine too (ctest runs the harness once with each).
#pragma once

namespace kiln::cpu {

enum class VectorIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The best body this CPU can run, capped by KILN_CPU_ISA (read once).
VectorIsa vector_isa();
const char* vector_isa_name(VectorIsa isa);

// Attribute strings for the kernel bodies.
#define KILN_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KILN_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))

}  // namespace kiln::cpu
