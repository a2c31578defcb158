// Boost.Asio 1.74 uses std::exchange without including <utility>, which
// GCC 12's headers no longer pull in; include Asio through this header.
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
