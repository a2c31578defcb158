// Writes the kstatus fixtures (tests/kstatus/fixtures.cc) as JSON files into
// a directory, plus expected.tsv ("<file>\t<verdict>" per line).
//
//   kstatus_dump_fixtures DIR
#include <fstream>
#include <iostream>

#include "tests/kstatus/fixtures.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: kstatus_dump_fixtures DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  std::ofstream expected(dir + "/expected.tsv");
  for (const auto& f : shardcast::kstatus_fixtures::All()) {
    const std::string file = f.name + ".json";
    std::ofstream out(dir + "/" + file);
    out << f.object.dump(2) << "\n";
    expected << file << "\t" << f.expected << "\n";
    if (!out || !expected) {
      std::cerr << "kstatus_dump_fixtures: cannot write " << dir << "/" << file << "\n";
      return 1;
    }
  }
  return 0;
}
