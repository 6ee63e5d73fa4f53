// ParseTopologyYaml: the static file format (README.md), validated with config::MapReader so that
// every error carries its YAML path, line and column.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <string>
#include <string_view>

#include "config/reader.h"
#include "discovery/discovery.h"

namespace brix::discovery {
namespace {

// The reasons below complete "invalid address '<text>': ...".
Error Invalid(std::string reason) { return InvalidArgument(std::move(reason)); }

bool IsAllDigitsAndDots(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

// RFC 1123 host names, plus '_' (Docker Compose service names use it and resolve in its DNS).
bool IsDnsName(std::string_view s) {
  if (s.size() > 1 && s.back() == '.') s.remove_suffix(1);  // an absolute name
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Checks a host (IPv4 literal, IPv6 literal without brackets, or DNS name) and returns the key
// under which two spellings of the same host compare equal: the canonical text of an IP
// literal ("0::1" and "::1" are one host), a DNS name in lower case without a trailing dot.
Result<std::string> HostKey(std::string_view host) {
  if (host.empty()) return Invalid("the host is empty");
  std::string text(host);
  char buf[INET6_ADDRSTRLEN] = {};
  if (text.find(':') != std::string::npos) {
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) {
      return Invalid(fmt::format("'{}' is not a valid IPv6 address", host));
    }
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    return std::string(buf);
  }
  if (IsAllDigitsAndDots(text)) {
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) != 1) {
      return Invalid(fmt::format("'{}' is not a valid IPv4 address", host));
    }
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
    return std::string(buf);
  }
  if (!IsDnsName(text)) {
    return Invalid(fmt::format("'{}' is not a valid host name or IP address", host));
  }
  if (text.back() == '.') text.pop_back();
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

Result<uint16_t> ParsePort(std::string_view text) {
  if (text.empty()) return Invalid("the port is missing after ':'");
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Invalid(fmt::format("the port '{}' is not a number", text));
  }
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || port < 1 || port > 65535) {
    return Invalid(fmt::format("the port must be between 1 and 65535, got {}", text));
  }
  return static_cast<uint16_t>(port);
}

struct HostAndPort {
  std::string host;  // IPv6 without brackets
  uint16_t port = 0;
};

// Splits "host:port" or "[ipv6]:port" and validates both halves.
Result<HostAndPort> ParseAddress(std::string_view text) {
  if (text.find("://") != std::string_view::npos) {
    return Invalid("write host:port without a scheme, e.g. 10.0.0.5:8000");
  }
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Invalid("missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Invalid("expected ':port' after ']', e.g. [::1]:8001");
    }
    if (host.find(':') == std::string_view::npos) {
      return Invalid("brackets are only for IPv6 addresses, e.g. [::1]:8001");
    }
    port = rest.substr(1);
  } else {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
      return Invalid("the port is missing; expected host:port, e.g. 127.0.0.1:8001");
    }
    if (text.find(':', colon + 1) != std::string_view::npos) {
      return Invalid("an IPv6 address must be in brackets, e.g. [::1]:8001");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return Invalid("the host is missing before ':'");
  Result<std::string> key = HostKey(host);
  if (!key) return key.error();
  Result<uint16_t> p = ParsePort(port);
  if (!p) return p.error();
  return HostAndPort{std::string(host), *p};
}

std::string DefaultName(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// The state of one parse that spans list items: what was seen where, for duplicate errors.
class TopologyParser {
 public:
  explicit TopologyParser(config::Diagnostics* diag) : diag_(diag) {}

  void ReadModel(const YAML::Node& item, const std::string& path, Topology* out) {
    config::MapReader m(item, path, diag_);
    ModelSpec spec;
    // A non-mapping item was reported by the reader already; "name is missing" would be noise.
    if (item.IsMap() || item.IsNull()) m.Require("name");
    m.Read("name", &spec.name);
    if (m.Has("name") && spec.name.empty()) m.Fail("name", "must not be empty");
    if (m.Has("routing_strategy")) {
      const size_t errors_before = diag_->errors().size();
      std::string strategy;
      m.Read("routing_strategy", &strategy);
      if (diag_->errors().size() == errors_before && strategy.empty()) {
        m.Fail("routing_strategy", "must not be empty (leave it out for the gateway's default)");
      }
      spec.routing_strategy = std::move(strategy);
    }
    if (m.Has("request_timeout")) {
      std::chrono::milliseconds timeout{0};
      m.ReadDuration("request_timeout", &timeout, std::chrono::milliseconds(1));
      spec.request_timeout = timeout;
    }
    if (!spec.name.empty()) {
      auto [it, inserted] = models_.emplace(spec.name, path);
      if (!inserted) {
        m.Fail("name", fmt::format("duplicate model '{}' (also {})", spec.name, it->second));
      }
    }
    m.Finish();
    out->models.push_back(std::move(spec));
  }

  void ReadEndpoint(const YAML::Node& item, const std::string& path, Topology* out) {
    if (item.IsScalar()) {
      // Shorthand: "- 10.0.0.5:8000" is an endpoint with only an address.
      const YAML::Mark mark = item.Mark();
      auto fail = [&](std::string_view, std::string message) {
        diag_->Add(path, mark, std::move(message));
      };
      Endpoint ep;
      Result<HostAndPort> hp = ParseAddress(item.Scalar());
      if (!hp) {
        fail("", fmt::format("invalid address '{}': {}", item.Scalar(), hp.error().message));
        return;
      }
      ep.host = std::move(hp->host);
      ep.port = hp->port;
      ep.name = DefaultName(ep.host, ep.port);
      CheckUnique(ep, path, /*explicit_name=*/false, "", fail);
      out->endpoints.push_back(std::move(ep));
      return;
    }

    config::MapReader m(item, path, diag_);
    auto fail = [&](std::string_view key, std::string message) { m.Fail(key, std::move(message)); };
    Endpoint ep;
    const size_t errors_before = diag_->errors().size();
    const bool has_address = m.Has("address");
    const bool has_host = m.Has("host");
    const bool has_port = m.Has("port");
    std::string address_key = "address";
    if (has_address) {
      std::string address;
      m.Read("address", &address);
      for (std::string_view key : {"host", "port"}) {
        if (!m.Has(key)) continue;
        std::string ignored;
        m.Read(key, &ignored);
        m.Fail(key, "give either address: or host: and port:, not both");
      }
      if (diag_->errors().size() == errors_before) {
        Result<HostAndPort> hp = ParseAddress(address);
        if (hp) {
          ep.host = std::move(hp->host);
          ep.port = hp->port;
        } else {
          m.Fail("address", fmt::format("invalid address '{}': {}", address, hp.error().message));
        }
      }
    } else if (has_host || has_port) {
      address_key = has_host ? "host" : "port";
      if (has_host) {
        const size_t host_errors_before = diag_->errors().size();
        m.Read("host", &ep.host);
        // An IPv6 literal may be written with the brackets it needs in an address.
        if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']' &&
            ep.host.find(':') != std::string::npos) {
          ep.host = ep.host.substr(1, ep.host.size() - 2);
        }
        if (diag_->errors().size() == host_errors_before) {
          Result<std::string> key = HostKey(ep.host);
          if (!key) m.Fail("host", key.error().message);
        }
      } else {
        m.Require("host");
      }
      if (has_port) {
        m.Read("port", &ep.port, uint16_t{1}, uint16_t{65535});
      } else {
        m.Require("port");
      }
    } else if (item.IsMap() || item.IsNull()) {
      m.Fail("address", "required field is missing (or give host: and port:)");
    }
    const bool address_ok = diag_->errors().size() == errors_before && !ep.host.empty();

    const bool explicit_name = m.Has("name");
    m.Read("name", &ep.name);
    if (explicit_name && ep.name.empty()) m.Fail("name", "must not be empty");
    if (!explicit_name && address_ok) ep.name = DefaultName(ep.host, ep.port);

    std::map<std::string, std::string, std::less<>> seen_models;
    m.ReadSequence("models", [&](const YAML::Node& model, const std::string& model_path) {
      if (model.IsNull() || (model.IsScalar() && model.Scalar().empty())) {
        diag_->Add(model_path, model.Mark(), "a model name must not be empty");
        return;
      }
      if (!model.IsScalar()) {
        diag_->Add(model_path, model.Mark(), "expected a model name");
        return;
      }
      auto [it, inserted] = seen_models.emplace(model.Scalar(), model_path);
      if (!inserted) {
        diag_->Add(model_path, model.Mark(),
                   fmt::format("duplicate model '{}' (also {})", model.Scalar(), it->second));
        return;
      }
      ep.models.push_back(model.Scalar());
    });

    if (address_ok) CheckUnique(ep, path, explicit_name, address_key, fail);
    m.Finish();
    out->endpoints.push_back(std::move(ep));
  }

 private:
  // Reports a second endpoint with the same host:port or the same name. When the name is the
  // default one, a repeated address already says everything.
  template <typename Fail>
  void CheckUnique(const Endpoint& ep, const std::string& path, bool explicit_name,
                   std::string_view address_key, Fail& fail) {
    std::string key = fmt::format("{}|{}", *HostKey(ep.host), ep.port);
    auto [addr_it, new_address] = addresses_.emplace(key, path);
    if (!new_address) {
      fail(address_key, fmt::format("duplicate endpoint address {} (also {})",
                                    DefaultName(ep.host, ep.port), addr_it->second));
    }
    if (ep.name.empty()) return;
    auto [name_it, new_name] = names_.emplace(ep.name, path);
    if (!new_name && (explicit_name || new_address)) {
      fail(explicit_name ? "name" : address_key,
           fmt::format("duplicate endpoint name '{}' (also {}){}", ep.name, name_it->second,
                       explicit_name ? "" : "; set name: to tell them apart"));
    }
  }

  config::Diagnostics* diag_;
  std::map<std::string, std::string, std::less<>> models_;     // model name -> YAML path
  std::map<std::string, std::string, std::less<>> addresses_;  // host key|port -> YAML path
  std::map<std::string, std::string, std::less<>> names_;      // endpoint name -> YAML path
};

}  // namespace

Result<Topology> ParseTopologyYaml(std::string_view text, std::string_view source_name) {
  Result<YAML::Node> root = config::ParseYaml(text, source_name);
  if (!root) return root.error();
  config::Diagnostics diag{std::string(source_name)};
  TopologyParser parser(&diag);
  Topology topology;
  config::MapReader r(*root, "", &diag);
  r.ReadSequence("models", [&](const YAML::Node& item, const std::string& path) {
    parser.ReadModel(item, path, &topology);
  });
  r.ReadSequence("endpoints", [&](const YAML::Node& item, const std::string& path) {
    parser.ReadEndpoint(item, path, &topology);
  });
  r.Finish();
  if (!diag.ok()) return diag.ToError();
  return topology;
}

}  // namespace brix::discovery
