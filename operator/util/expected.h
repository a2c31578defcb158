// Moved to util/expected.h; this forwarding header goes once agent/, router/ and controllers/forecast/
// include the new path (every other includer already does).
#pragma once
#include "util/expected.h"
