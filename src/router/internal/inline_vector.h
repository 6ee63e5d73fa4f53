// A vector that keeps its first N elements in place (on the caller's stack) and moves to the heap
// beyond, for per-request scratch space on the routing hot path.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

namespace brix::router::internal {

// Append-only; elements must be trivially copyable and destructible (views, indices), so the
// inline slots are neither constructed up front nor destroyed. Not copyable or movable: spans
// handed out point into it. One owner, one thread.
template <typename T, size_t N>
class InlineVector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  // Reserves room for `capacity` elements: in place if it fits, else on the heap.
  explicit InlineVector(size_t capacity) : on_heap_(capacity > N) {
    if (on_heap_) heap_.reserve(capacity);
  }
  InlineVector(const InlineVector&) = delete;
  InlineVector& operator=(const InlineVector&) = delete;

  void push_back(const T& value) {
    if (!on_heap_) {
      if (size_ < N) {
        std::construct_at(&inline_[size_++], value);
        return;
      }
      heap_.reserve(2 * N);
      heap_.assign(inline_, inline_ + size_);
      on_heap_ = true;
    }
    heap_.push_back(value);
  }

  std::span<const T> span() const {
    return on_heap_ ? std::span<const T>(heap_) : std::span<const T>(inline_, size_);
  }
  size_t size() const { return on_heap_ ? heap_.size() : size_; }
  const T& operator[](size_t i) const { return on_heap_ ? heap_[i] : inline_[i]; }

 private:
  union {
    T inline_[N];  // the first size_ are live while !on_heap_
  };
  size_t size_ = 0;
  bool on_heap_;
  std::vector<T> heap_;
};

}  // namespace brix::router::internal
