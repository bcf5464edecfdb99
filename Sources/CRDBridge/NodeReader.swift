import Config

/// Reads typed fields out of YAML nodes, collecting a diagnostic (with the node's position) for
/// every field of the wrong shape, and a warning for every key it does not know.
struct NodeReader {
  let file: String
  var diagnostics = BridgeDiagnostics()

  init(file: String) {
    self.file = file
  }

  func at(_ node: YAMLNode) -> ManifestLocation { ManifestLocation(file: file, mark: node.mark) }

  mutating func error(_ message: String, _ node: YAMLNode) {
    diagnostics.error(message, at: at(node))
  }

  /// The fields of a mapping by key, warning about keys outside `known`; nil (with an error) if
  /// the node is not a mapping.
  mutating func fields(_ node: YAMLNode, _ what: String, known: [String]?) -> [String: YAMLPair]? {
    guard let pairs = node.mapping else {
      error("\(what) must be a mapping, found \(node.kindDescription)", node)
      return nil
    }
    var out: [String: YAMLPair] = [:]
    for p in pairs {
      guard let key = p.key.scalar?.text else {
        error("\(what): keys must be scalars", p.key)
        continue
      }
      if let known, !known.contains(key) {
        diagnostics.warning(
          "unknown field '\(key)' in \(what) (ignored); expected one of: \(known.joined(separator: ", "))",
          at: at(p.key))
        continue
      }
      out[key] = p
    }
    return out
  }

  mutating func string(_ node: YAMLNode?, _ what: String) -> String? {
    guard let node else { return nil }
    guard let s = node.scalar, case .string(let text) = s.value else {
      error("\(what) must be a string, found \(node.kindDescription)", node)
      return nil
    }
    return text
  }

  /// A scalar as text, whatever its type (label values, names written as numbers).
  mutating func text(_ node: YAMLNode?, _ what: String) -> String? {
    guard let node else { return nil }
    guard let s = node.scalar, s.value != .null else {
      error("\(what) must be a scalar, found \(node.kindDescription)", node)
      return nil
    }
    return s.text
  }

  mutating func int(_ node: YAMLNode?, _ what: String) -> Int? {
    guard let node else { return nil }
    guard case .int(let i)? = node.scalar?.value else {
      error("\(what) must be an integer, found \(node.kindDescription)", node)
      return nil
    }
    return i
  }

  mutating func bool(_ node: YAMLNode?, _ what: String) -> Bool? {
    guard let node else { return nil }
    guard case .bool(let b)? = node.scalar?.value else {
      error("\(what) must be true or false, found \(node.kindDescription)", node)
      return nil
    }
    return b
  }

  mutating func port(_ node: YAMLNode?, _ what: String) -> Int? {
    guard let node, let p = int(node, what) else { return nil }
    guard (1...65535).contains(p) else {
      error("\(what) \(p) is out of range 1–65535", node)
      return nil
    }
    return p
  }

  /// A list, or one item standing for a list of one (`rules: {…}` or `rules: [{…}]`).
  func list(_ node: YAMLNode?) -> [YAMLNode] {
    guard let node, !node.isNull else { return [] }
    return node.sequence ?? [node]
  }

  mutating func stringMap(_ node: YAMLNode?, _ what: String) -> [String: String] {
    guard let node, !node.isNull, let f = fields(node, what, known: nil) else { return [:] }
    var out: [String: String] = [:]
    for (k, p) in f {
      if let v = text(p.value, "\(what).\(k)") { out[k] = v }
    }
    return out
  }

  mutating func meta(_ node: YAMLNode?, _ what: String, extra: [String] = []) -> ObjectMeta? {
    guard let node, let f = fields(node, "\(what) metadata", known: nil) else { return nil }
    guard let name = string(f["name"]?.value, "metadata.name") else {
      error("\(what) needs metadata.name", node)
      return nil
    }
    return ObjectMeta(
      name: name, namespace: string(f["namespace"]?.value, "metadata.namespace") ?? "default",
      labels: stringMap(f["labels"]?.value, "metadata.labels"))
  }
}
