// Strong ids: a SiteId cannot be passed where a NodeId is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace rigshift {

template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(int64_t value) : value_(value) {}
  constexpr int64_t value() const { return value_; }
  friend constexpr auto operator<=>(StrongId, StrongId) = default;

 private:
  int64_t value_ = 0;
};

using SiteId = StrongId<struct SiteIdTag>;
using NodeId = StrongId<struct NodeIdTag>;
using DeviceId = StrongId<struct DeviceIdTag>;

}  // namespace rigshift

template <typename Tag>
struct std::hash<rigshift::StrongId<Tag>> {
  size_t operator()(rigshift::StrongId<Tag> id) const noexcept { return std::hash<int64_t>{}(id.value()); }
};
