#pragma once
/// Store's private state, shared by the .cpp files that implement its members.

#include "memory/internal/database.h"
#include "memory/memory.h"

namespace ak::memory {

struct Store::Impl {
  internal::Database db;
};

}  // namespace ak::memory
