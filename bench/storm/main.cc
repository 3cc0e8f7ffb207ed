// paddock-storm command line; see storm.h for what is simulated.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "storm.h"

namespace {

void Usage() {
  std::cerr << "usage: paddock-storm --interface IF --machines N [--source leased|single]\n"
               "         [--link-bps BITS] [--spread-ms MS] [--deadline S] [--run-tag 0-255]\n"
               "         [--first-index I] [--http-retries R] [--output FILE]\n";
}

}  // namespace

int main(int argc, char** argv) {
  paddock::bench::StormOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--interface")
      o.interface = value();
    else if (a == "--machines")
      o.machines = std::stoi(value());
    else if (a == "--source")
      o.source = value();
    else if (a == "--link-bps")
      o.link_bits_per_second = std::stod(value());
    else if (a == "--spread-ms")
      o.spread_ms = std::stoi(value());
    else if (a == "--deadline")
      o.deadline_seconds = std::stoi(value());
    else if (a == "--run-tag")
      o.run_tag = std::stoi(value());
    else if (a == "--first-index")
      o.first_index = std::stoi(value());
    else if (a == "--http-retries")
      o.http_retries = std::stoi(value());
    else if (a == "--output")
      o.output = value();
    else {
      Usage();
      return 2;
    }
  }
  if (o.machines <= 0 || (o.source != "leased" && o.source != "single")) {
    Usage();
    return 2;
  }
  return paddock::bench::RunStorm(o);
}
