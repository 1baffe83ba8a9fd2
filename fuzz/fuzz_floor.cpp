// Not a parser: the empty libFuzzer target, built with the same sanitizers as the others. Its
// executions per second are this machine's fuzzing floor, measured beside each target in the
// same run (bench/fuzz/REPORT.md), so a target's rate reads as a fraction of what is possible here.
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
