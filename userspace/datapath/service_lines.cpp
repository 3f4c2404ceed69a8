#include "service_lines.h"

#include <istream>
#include <ostream>

#include "service_text.h"
#include "service_writer.h"

namespace sluice {

int apply_service_lines(DatapathMaps& maps, std::istream& in, const std::string& source, std::ostream& errors) {
  ServiceWriter writer(maps);
  std::string line;
  int lineno = 0;
  int bad = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    auto spec = parse_service_line(line);
    Status s = spec ? writer.apply(*spec) : Status(spec.error());
    if (!s) {
      errors << source << ':' << lineno << ": " << s.error().to_string() << '\n';
      ++bad;
    }
  }
  return bad;
}

}  // namespace sluice
