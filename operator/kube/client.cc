#include "operator/kube/client.h"

#include <spdlog/spdlog.h>

namespace shardcast::kube {

namespace resources {
const Resource kPods{"", "v1", "pods", "Pod", true};
const Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
const Resource kEvents{"", "v1", "events", "Event", true};
const Resource kNamespaces{"", "v1", "namespaces", "Namespace", false};
const Resource kNodes{"", "v1", "nodes", "Node", false};
const Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                                       true};
const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource kPodMetrics{"metrics.k8s.io", "v1beta1", "pods", "PodMetrics", true};
}  // namespace resources

namespace {

std::string PercentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

ApiResult<Json> ParseBody(const std::string& body,
                          const Json::parser_callback_t& filter = nullptr) {
  Json j = Json::parse(body, filter, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return MakeApiError(ErrorKind::kDecode,
                        "server answered with invalid JSON: " + body.substr(0, 200));
  }
  return j;
}

const char* ContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string NameOf(const Json& obj) {
  if (!obj.is_object()) return {};
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return {};
  auto n = m->find("name");
  if (n == m->end() || !n->is_string()) return {};
  return n->get<std::string>();
}

}  // namespace

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    q += q.empty() ? "?" : "&";
    q += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return q;
}

std::string Client::Path(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) p += "/namespaces/" + PercentEncode(ns);
  p += "/" + r.plural;
  if (!name.empty()) p += "/" + PercentEncode(name);
  if (!subresource.empty()) p += "/" + subresource;
  return p;
}

ApiResult<HttpResponse> Client::send(const HttpRequest& req) {
  auto resp = transport_->send(req);
  const int status = resp ? resp->status : resp.error().http_status;
  if (observer_) observer_(req.method, status);
  if (req.method != "GET") {
    spdlog::debug("api {} {} -> {}", req.method, req.path_and_query, status);
  } else {
    spdlog::trace("api GET {} -> {}", req.path_and_query, status);
  }
  return resp;
}

ApiResult<Json> Client::call(const HttpRequest& req) {
  auto resp = send(req);
  if (!resp) return Unexpected<ApiError>{resp.error()};
  if (resp->body.empty()) return Json::object();
  return ParseBody(resp->body);
}

ApiResult<Json> Client::get(const Resource& r, const std::string& ns, const std::string& name,
                            const std::string& subresource) {
  return call(HttpRequest{"GET", Path(r, ns, name, subresource), "", "", "application/json"});
}

namespace {
std::vector<std::pair<std::string, std::string>> ListParams(const ListOptions& o) {
  std::vector<std::pair<std::string, std::string>> q;
  if (!o.label_selector.empty()) q.emplace_back("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) q.emplace_back("fieldSelector", o.field_selector);
  if (o.limit > 0) q.emplace_back("limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) q.emplace_back("continue", o.continue_token);
  if (!o.resource_version.empty()) q.emplace_back("resourceVersion", o.resource_version);
  return q;
}
}  // namespace

namespace {

// A parser callback for a list body {"items": [{metadata, spec, status}]}:
// depth 1 holds the list's keys, 2 the items, 3 an item's sections, 4 their
// fields. Returning false drops a key with its value before it is built.
Json::parser_callback_t ItemPruneFilter(const ListItemPrune& prune) {
  struct State {
    std::string root_key, section;
  };
  auto st = std::make_shared<State>();
  return [prune, st](int depth, Json::parse_event_t event, Json& parsed) {
    if (event != Json::parse_event_t::key || !parsed.is_string()) return true;
    const std::string& key = parsed.get_ref<const std::string&>();
    if (depth == 1) {
      st->root_key = key;
      return true;
    }
    if (st->root_key != "items") return true;
    if (depth == 3) {
      st->section = key;
      return true;
    }
    if (depth != 4) return true;
    if (st->section == "metadata") return !(prune.drop_managed_fields && key == "managedFields");
    if (st->section == "spec" && prune.keep_spec) return prune.keep_spec->count(key) > 0;
    if (st->section == "status" && prune.keep_status) return prune.keep_status->count(key) > 0;
    return true;
  };
}

}  // namespace

ApiResult<Json> Client::list(const Resource& r, const std::string& ns, const ListOptions& opts) {
  HttpRequest req{"GET", Path(r, ns) + QueryString(ListParams(opts)), "", "", "application/json"};
  if (!opts.prune.active()) return call(req);
  auto resp = send(req);
  if (!resp) return Unexpected<ApiError>{resp.error()};
  if (resp->body.empty()) return Json::object();
  return ParseBody(resp->body, ItemPruneFilter(opts.prune));
}

ApiResult<ListResult> Client::ListAll(const Resource& r, const std::string& ns, ListOptions opts) {
  ListResult out;
  for (;;) {
    auto page = list(r, ns, opts);
    if (!page) return Unexpected<ApiError>{page.error()};
    ++out.pages;
    Json j = std::move(*page);
    auto items = j.find("items");
    if (items == j.end() || !(items->is_array() || items->is_null())) {
      return MakeApiError(ErrorKind::kDecode, "list of " + r.plural + ": 'items' is not a list");
    }
    if (items->is_array()) {
      out.items.reserve(out.items.size() + items->size());
      for (auto& it : *items) out.items.push_back(std::move(it));  // no second copy of the page
    }
    std::string cont;
    if (auto md = j.find("metadata"); md != j.end() && md->is_object()) {
      if (auto rv = md->find("resourceVersion"); rv != md->end() && rv->is_string()) {
        out.resource_version = *rv;
      }
      if (auto c = md->find("continue"); c != md->end() && c->is_string()) cont = *c;
    }
    if (cont.empty()) return out;
    opts.continue_token = cont;
    // A continued list must not also pin a resourceVersion.
    opts.resource_version.clear();
  }
}

ApiResult<Json> Client::create(const Resource& r, const std::string& ns, const Json& obj) {
  return call(HttpRequest{"POST", Path(r, ns), obj.dump(), "application/json", "application/json"});
}

ApiResult<Json> Client::update(const Resource& r, const std::string& ns, const Json& obj,
                               const std::string& subresource) {
  std::string name = NameOf(obj);
  if (name.empty()) return MakeApiError(ErrorKind::kInvalid, "update: object has no metadata.name");
  return call(HttpRequest{"PUT", Path(r, ns, name, subresource), obj.dump(), "application/json",
                          "application/json"});
}

ApiResult<Json> Client::patch(const Resource& r, const std::string& ns, const std::string& name,
                              PatchType type, const Json& body, const PatchOptions& opts) {
  std::vector<std::pair<std::string, std::string>> q;
  if (!opts.field_manager.empty()) q.emplace_back("fieldManager", opts.field_manager);
  if (type == PatchType::kApply && opts.force) q.emplace_back("force", "true");
  return call(HttpRequest{"PATCH", Path(r, ns, name, opts.subresource) + QueryString(q),
                          body.dump(), ContentType(type), "application/json"});
}

ApiResult<Json> Client::apply(const Resource& r, const std::string& ns, const Json& obj,
                              const std::string& field_manager, bool force,
                              const std::string& subresource) {
  std::string name = NameOf(obj);
  if (name.empty()) return MakeApiError(ErrorKind::kInvalid, "apply: object has no metadata.name");
  if (field_manager.empty()) {
    return MakeApiError(ErrorKind::kInvalid, "apply: a field manager is required");
  }
  return patch(r, ns, name, PatchType::kApply, obj,
               PatchOptions{field_manager, force, subresource});
}

ApiStatus Client::remove(const Resource& r, const std::string& ns, const std::string& name,
                         const DeleteOptions& opts) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (opts.precondition_uid || opts.precondition_resource_version) {
    Json pre = Json::object();
    if (opts.precondition_uid) pre["uid"] = *opts.precondition_uid;
    if (opts.precondition_resource_version) {
      pre["resourceVersion"] = *opts.precondition_resource_version;
    }
    body["preconditions"] = pre;
  }
  if (!opts.propagation_policy.empty()) body["propagationPolicy"] = opts.propagation_policy;
  if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
  auto resp = send(HttpRequest{"DELETE", Path(r, ns, name), body.dump(), "application/json",
                               "application/json"});
  if (!resp) return Unexpected<ApiError>{resp.error()};
  return {};
}

ApiResult<Json> Client::GetPath(const std::string& path) {
  return call(HttpRequest{"GET", path, "", "", "application/json"});
}

ApiResult<bool> Client::serves(const std::string& group, const std::string& version) {
  auto j = GetPath(group.empty() ? "/api" : "/apis/" + group);
  if (!j) {
    if (j.error().kind == ErrorKind::kNotFound) return false;
    return Unexpected<ApiError>{j.error()};
  }
  // /apis/<group> answers an APIGroup with versions[].version; /api answers
  // APIVersions with versions[] of strings.
  auto versions = j->find("versions");
  if (versions == j->end() || !versions->is_array()) return false;
  for (const auto& v : *versions) {
    if (v.is_string() && v.get<std::string>() == version) return true;
    if (v.is_object()) {
      auto it = v.find("version");
      if (it != v.end() && it->is_string() && it->get<std::string>() == version) return true;
    }
  }
  return false;
}

ApiResult<std::unique_ptr<WatchStream>> Client::watch(const Resource& r, const std::string& ns,
                                                      const WatchOptions& opts) {
  std::vector<std::pair<std::string, std::string>> q{{"watch", "true"}};
  if (!opts.resource_version.empty()) q.emplace_back("resourceVersion", opts.resource_version);
  if (opts.allow_bookmarks) q.emplace_back("allowWatchBookmarks", "true");
  if (opts.timeout_seconds > 0)
    q.emplace_back("timeoutSeconds", std::to_string(opts.timeout_seconds));
  if (!opts.label_selector.empty()) q.emplace_back("labelSelector", opts.label_selector);
  if (!opts.field_selector.empty()) q.emplace_back("fieldSelector", opts.field_selector);
  // The client-side idle limit sits well past the server's own end of the
  // watch; bookmarks arrive about once a minute.
  auto idle = std::chrono::seconds(std::max(opts.timeout_seconds, 60) + 60);
  auto lines = transport_->stream(
      HttpRequest{"GET", Path(r, ns) + QueryString(q), "", "", "application/json"}, idle);
  if (!lines) return Unexpected<ApiError>{lines.error()};
  return std::make_unique<WatchStream>(std::move(*lines));
}

ApiResult<WatchEvent> ParseWatchEvent(const std::string& line) {
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeApiError(ErrorKind::kDecode,
                        "watch event is not a JSON object: " + line.substr(0, 200));
  }
  auto type = j.find("type");
  auto obj = j.find("object");
  if (type == j.end() || !type->is_string()) {
    return MakeApiError(ErrorKind::kDecode, "watch event has no string 'type'");
  }
  if (obj == j.end() || !obj->is_object()) {
    return MakeApiError(ErrorKind::kDecode, "watch event has no 'object'");
  }
  const std::string t = *type;
  if (t == "ERROR") {
    int code = 0;
    if (auto c = obj->find("code"); c != obj->end() && c->is_number_integer()) code = *c;
    ApiError err = ErrorFromResponse(code, obj->dump());
    if (code == 0) err.kind = ErrorKind::kUnknown;
    return Unexpected<ApiError>{err};
  }
  WatchEventType et;
  if (t == "ADDED") {
    et = WatchEventType::kAdded;
  } else if (t == "MODIFIED") {
    et = WatchEventType::kModified;
  } else if (t == "DELETED") {
    et = WatchEventType::kDeleted;
  } else if (t == "BOOKMARK") {
    et = WatchEventType::kBookmark;
  } else {
    return MakeApiError(ErrorKind::kDecode, "watch event has unknown type '" + t + "'");
  }
  return WatchEvent{et, std::move(*obj)};
}

ApiResult<std::optional<WatchEvent>> WatchStream::next() {
  for (;;) {
    auto line = lines_->NextLine();
    if (!line) return Unexpected<ApiError>{line.error()};
    if (!line->has_value()) return std::optional<WatchEvent>();
    if ((*line)->empty()) continue;
    auto ev = ParseWatchEvent(**line);
    if (!ev) return Unexpected<ApiError>{ev.error()};
    return std::optional<WatchEvent>(std::move(*ev));
  }
}

}  // namespace shardcast::kube
