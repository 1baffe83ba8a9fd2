// Without libFuzzer (g++ builds, CI): replay every corpus file, then a bounded number of
// deterministic mutations of them, through the fuzz target. Keeps the targets from rotting.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> inputs;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    inputs.push_back(ss.str());
  }
  long mutations = argc > 2 ? std::stol(argv[2]) : 20000;
  for (const auto& s : inputs) LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  std::mt19937_64 rng(12345);
  for (long i = 0; i < mutations && !inputs.empty(); ++i) {
    std::string s = inputs[rng() % inputs.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits; ++k) {
      std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 4) {
        case 0: if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(rng()); break;
        case 1: s.insert(pos, 1, static_cast<char>(rng())); break;
        case 2: if (pos < s.size()) s.erase(pos, 1 + rng() % 4); break;
        case 3: s.insert(pos, s.substr(0, rng() % (s.size() + 1))); break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }
  std::printf("replayed %zu corpus inputs and %ld mutations\n", inputs.size(), mutations);
  return 0;
}
