/// A kind of Kubernetes object the bridge watches, by API group, version and plural resource name,
/// in one namespace or in all of them.
public struct KubernetesResource: Sendable, Hashable, CustomStringConvertible {
  /// Empty for the core group (`/api/v1/...`).
  public var group: String
  public var version: String
  public var plural: String
  /// nil: every namespace the credentials may read.
  public var namespace: String?

  public init(group: String, version: String, plural: String, namespace: String? = nil) {
    self.group = group
    self.version = version
    self.plural = plural
    self.namespace = namespace
  }

  public static func virtualServices(namespace: String? = nil) -> Self {
    Self(group: "l7mp.io", version: "v1", plural: "virtualservices", namespace: namespace)
  }
  public static func routes(namespace: String? = nil) -> Self {
    Self(group: "l7mp.io", version: "v1", plural: "routes", namespace: namespace)
  }
  public static func services(namespace: String? = nil) -> Self {
    Self(group: "", version: "v1", plural: "services", namespace: namespace)
  }
  public static func pods(namespace: String? = nil) -> Self {
    Self(group: "", version: "v1", plural: "pods", namespace: namespace)
  }
  public static func endpointSlices(namespace: String? = nil) -> Self {
    Self(group: "discovery.k8s.io", version: "v1", plural: "endpointslices", namespace: namespace)
  }

  /// The collection's path: `/api/v1/pods`, `/apis/l7mp.io/v1/namespaces/NS/virtualservices`.
  public var path: String {
    let root = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
    if let namespace { return "\(root)/namespaces/\(namespace)/\(plural)" }
    return "\(root)/\(plural)"
  }

  /// `virtualservices.l7mp.io` (in all namespaces) — how RBAC rules and kubectl name it.
  public var description: String {
    let name = group.isEmpty ? plural : "\(plural).\(group)"
    return namespace.map { "\(name) in namespace \($0)" } ?? "\(name) in all namespaces"
  }
}
