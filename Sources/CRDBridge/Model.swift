import Config

/// `metadata`: what the bridge uses of it.
public struct ObjectMeta: Sendable, Hashable {
  public var name: String
  public var namespace: String
  public var labels: [String: String]

  public init(name: String, namespace: String = "default", labels: [String: String] = [:]) {
    self.name = name
    self.namespace = namespace
    self.labels = labels
  }
}

/// Which pods run a VirtualService's listeners: by labels (in the VirtualService's namespace), or
/// the pods of a Kubernetes Service.
public enum ProxySelector: Sendable, Hashable {
  case labels(match: [String: String], expressions: [LabelExpression])
  case service(name: String, namespace: String)
}

/// One `matchExpressions` item.
public struct LabelExpression: Sendable, Hashable {
  public enum Operator: String, Sendable, Hashable, CaseIterable {
    case `in` = "In"
    case notIn = "NotIn"
    case exists = "Exists"
    case doesNotExist = "DoesNotExist"
  }

  public var key: String
  public var op: Operator
  public var values: [String]

  public func matches(_ labels: [String: String]) -> Bool {
    switch op {
    case .in: return labels[key].map(values.contains) ?? false
    case .notIn: return !(labels[key].map(values.contains) ?? false)
    case .exists: return labels[key] != nil
    case .doesNotExist: return labels[key] == nil
    }
  }
}

/// `kind: VirtualService` (apiVersion l7mp.io/v1): listeners with their rules, on the pods its
/// selector picks. Without a listener it is a stub: a route target (a cluster).
public struct VirtualService: Sendable, Hashable {
  public var meta: ObjectMeta
  public var selector: ProxySelector?
  public var listeners: [VirtualListener]
  public var location: ManifestLocation
  public var selectorLocation: ManifestLocation?
  /// Whether the manifest declares listeners (even ones that had errors).
  public var declaresListeners = false

  /// A stub: no listener, only a route target.
  public var isStub: Bool { !declaresListeners }
}

/// One `spec.listener` / `spec.virtualHost` item.
public struct VirtualListener: Sendable, Hashable {
  public var name: String
  public var `protocol`: TransportProtocol
  public var port: Int?
  public var address: String?
  public var filename: String?
  public var rules: [VirtualRule]
  public var location: ManifestLocation
  public var portLocation: ManifestLocation
}

/// One rule: `{match?, action: {rewrite?, route}, options?}`.
public struct VirtualRule: Sendable, Hashable {
  public var name: String?
  public var match: Predicate?
  public var rewrites: [Rewrite]
  public var route: RouteReference?
  public var options: [RouteOption]
  public var location: ManifestLocation
}

/// A JSONPredicate as written: `{op, path?, value?, ignore_case?, apply?}`. Checked and translated
/// by `PredicateTranslator`.
public struct Predicate: Sendable, Hashable {
  public var op: String
  public var path: String?
  public var value: YAMLNode?
  public var ignoreCase: Bool
  public var apply: [Predicate]?
  public var location: ManifestLocation
  public var opLocation: ManifestLocation
  public var valueLocation: ManifestLocation?
}

/// `{path, value}`: set metadata.
public struct Rewrite: Sendable, Hashable {
  public var path: String
  public var value: YAMLNode
  public var location: ManifestLocation
}

/// `action.route`: inline, or the name of a `Route` object.
public enum RouteReference: Sendable, Hashable {
  case inline(RouteSpec)
  case named(String, ManifestLocation)
}

/// `{destination | cluster, ingress?, egress?, retry?}`
public struct RouteSpec: Sendable, Hashable {
  public var destination: TargetReference
  public var ingress: [TargetReference]
  public var egress: [TargetReference]
  public var retry: RetryPolicy?
  public var location: ManifestLocation
}

/// A route target: a name (VirtualService, then Kubernetes Service), or an inline cluster.
public enum TargetReference: Sendable, Hashable {
  case named(String, ManifestLocation)
  case inline(InlineCluster)

  public var location: ManifestLocation {
    switch self {
    case .named(_, let l): return l
    case .inline(let c): return c.location
    }
  }
}

/// `{name?, spec: {protocol, port?, address?, filename?}, endpoints?}` written in a route.
public struct InlineCluster: Sendable, Hashable {
  public var name: String?
  public var spec: ClusterSpec
  public var address: String?
  public var endpoints: [EndpointConfig]
  public var location: ManifestLocation
}

/// l7mp's `retry: {retry_on, num_retries, timeout}` (timeout in milliseconds).
public struct RetryPolicy: Sendable, Hashable {
  public var retryOn: String?
  public var retries: Int?
  public var timeoutMilliseconds: Int?
  public var location: ManifestLocation
}

/// A rule option (`removeOrphanSessions: true`), as a route option of the rule language.
public struct RouteOption: Sendable, Hashable {
  public var name: String
  public var value: YAMLNode
  public var location: ManifestLocation
}

/// `kind: Route`: a route defined once and named by rules (`action: {route: NAME}`).
public struct Route: Sendable, Hashable {
  public var meta: ObjectMeta
  public var spec: RouteSpec
  public var location: ManifestLocation
}

/// The Kubernetes objects the bridge reads.
public struct KubernetesService: Sendable, Hashable {
  public struct Port: Sendable, Hashable {
    public var name: String?
    public var port: Int
    public var targetPort: TargetPort
    public var `protocol`: String
  }

  public enum TargetPort: Sendable, Hashable {
    case number(Int)
    case named(String)
  }

  public var meta: ObjectMeta
  public var selector: [String: String]
  public var ports: [Port]
  public var clusterIP: String?
  public var location: ManifestLocation
}

public struct EndpointSlice: Sendable, Hashable {
  public struct Port: Sendable, Hashable {
    public var name: String?
    public var port: Int
    public var `protocol`: String
  }

  public var meta: ObjectMeta
  /// Addresses of ready endpoints.
  public var addresses: [String]
  public var ports: [Port]

  public var serviceName: String? { meta.labels["kubernetes.io/service-name"] }
}

public struct Pod: Sendable, Hashable {
  public var meta: ObjectMeta
  public var ip: String?
  /// Named container ports, for Services whose `targetPort` is a name.
  public var namedPorts: [String: Int]
}

/// Everything read from a set of manifests.
public struct Manifests: Sendable {
  public var virtualServices: [VirtualService] = []
  public var routes: [Route] = []
  public var services: [KubernetesService] = []
  public var endpointSlices: [EndpointSlice] = []
  public var pods: [Pod] = []

  public init() {}
}
