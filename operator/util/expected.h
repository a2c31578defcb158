// Moved to util/expected.h; this forwarding header goes once every branch includes the new path.
#pragma once
#include "util/expected.h"
