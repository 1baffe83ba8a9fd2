#pragma once
// Prometheus text-format metrics: counters (with one label set each), gauges and fixed-bucket histograms.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace downbeat::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  // name{labels} += v. `labels` is the label text without braces, e.g. type="slot.create".
  void inc(const std::string& name, const std::string& labels = {}, double v = 1);
  void set_gauge(const std::string& name, const std::string& labels, double v);
  Histogram commit_seconds{{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  Histogram fanout_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05}};
  std::string render() const;
  double value(const std::string& name, const std::string& labels = {}) const;

 private:
  std::map<std::string, std::map<std::string, double>> counters_;
  std::map<std::string, std::map<std::string, double>> gauges_;
  std::map<std::string, std::string> help_;
};

std::string label_escape(const std::string& v);

}  // namespace downbeat::server
