#pragma once
// Flags: binds an experiment's parameters to CLI11 options, remembers each one's --quick value, and reports
// every value for config.json. An experiment declares a parameter once:
//
//   flags.add("--depths", config.depths, "depths L", /*quick=*/std::vector<int>{10, 100, 1000});
//
// Vector flags take comma-separated values (--depths 10,100,1000). After parsing, apply_quick() sets the quick
// value of every flag the user did not give: `--quick --seeds 20` reduces everything but the seed count.
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace tapelab::experiments {

class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}

  template <class V>
  CLI::Option* add(const std::string& name, V& value, const std::string& help,
                   std::optional<V> quick = std::nullopt) {
    CLI::Option* option = app_.add_option(name, value, help)->capture_default_str();
    if constexpr (is_vector<V>::value) option->delimiter(',');
    if constexpr (std::is_floating_point_v<typename element<V>::type>) option->check(finite_number());
    Entry e{name, option, {}, [&value] { return nlohmann::json(value); }};
    if (quick) e.set_quick = [&value, q = *quick] { value = q; };
    entries_.push_back(std::move(e));
    return option;
  }
  // A boolean switch (--name, default off).
  CLI::Option* add_switch(const std::string& name, bool& value, const std::string& help) {
    CLI::Option* option = app_.add_flag(name, value, help);
    entries_.push_back({name, option, {}, [&value] { return nlohmann::json(value); }});
    return option;
  }

  // Sets the quick value of every flag that has one and was not given on the command line.
  void apply_quick() {
    for (const Entry& e : entries_)
      if (e.set_quick && e.option->count() == 0) e.set_quick();
  }
  // Was this flag given on the command line?
  bool given(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return e.option->count() > 0;
    return false;
  }
  // {"depths": [...], "seeds": 50, ...}: every parameter's current value, names without the dashes.
  nlohmann::json values() const {
    nlohmann::json out = nlohmann::json::object();
    for (const Entry& e : entries_) out[e.name.substr(e.name.find_first_not_of('-'))] = e.get();
    return out;
  }

 private:
  template <class V>
  struct is_vector : std::false_type {};
  template <class U, class A>
  struct is_vector<std::vector<U, A>> : std::true_type {};
  template <class V>
  struct element {
    using type = V;
  };
  template <class U, class A>
  struct element<std::vector<U, A>> {
    using type = U;
  };
  // Refuses nan and inf (which CLI11 reads into a double like any number) in a real-valued flag, or in any
  // element of a list. A word that is no number at all passes here and fails CLI11's conversion.
  static CLI::Validator finite_number() {
    return CLI::Validator(
        [](std::string& v) {
          const double x = std::strtod(v.c_str(), nullptr);
          return std::isfinite(x) ? std::string() : "'" + v + "' is not a finite number";
        },
        "");
  }

  struct Entry {
    std::string name;
    CLI::Option* option;
    std::function<void()> set_quick;
    std::function<nlohmann::json()> get;
  };
  CLI::App& app_;
  std::vector<Entry> entries_;
};

}  // namespace tapelab::experiments
