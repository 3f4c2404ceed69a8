// Programming L4 services by hand from their one-line text form
// (service_text.h): what `sluicectl svc add` and `sluicectl apply` do.
#pragma once

#include <iosfwd>
#include <string>

#include "datapath_maps.h"

namespace sluice {

// Applies each line of `in` (blank lines and # comments skipped) to the
// tables; a bad or failing line is reported on `errors` as source:line and
// skipped, the others still apply. Returns the number of bad lines.
int apply_service_lines(DatapathMaps& maps, std::istream& in, const std::string& source, std::ostream& errors);

}  // namespace sluice
