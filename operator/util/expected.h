// Moved to util/expected.h. This forwarding header goes once agent/, router/
// and controllers/forecast/ include the new path (every other includer does).
#pragma once
#include "util/expected.h"
