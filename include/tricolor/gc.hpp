// tricolor: a concurrent tracing garbage collector for C++ after Go's runtime.
// This header includes the whole public surface; see API.md for the contract.
#pragma once

#include "tricolor/allocator.hpp"
#include "tricolor/arena.hpp"
#include "tricolor/atomic_ptr.hpp"
#include "tricolor/cleanup.hpp"
#include "tricolor/control.hpp"
#include "tricolor/fiber.hpp"
#include "tricolor/inspect.hpp"
#include "tricolor/make.hpp"
#include "tricolor/pool.hpp"
#include "tricolor/profile.hpp"
#include "tricolor/ptr.hpp"
#include "tricolor/weak.hpp"
