import Config

/// Finds what a route's target names, and the cluster that reaches it.
///
/// A short name means the referring object's namespace; `NAME.NS.virtualservice.cluster.local`
/// names a VirtualService and `NAME.NS.svc.cluster.local` a Kubernetes Service in any namespace. A
/// VirtualService with a listener is reached at that listener (its protocol and port, on the pods
/// its selector picks); a stub VirtualService (no listener) takes its port and protocol from the
/// Kubernetes Service of the same name; a name that is no VirtualService is a Kubernetes Service
/// (`port`, `protocol`, `targetPort`; endpoints from its EndpointSlices, else its pods, else its
/// cluster IP).
struct TargetResolver {
  let manifests: Manifests
  private var virtualServices: [ObjectKey: VirtualService] = [:]
  private var services: [ObjectKey: KubernetesService] = [:]
  private var routes: [ObjectKey: Route] = [:]
  /// Names used in more than one namespace: their clusters are called `NAME.NAMESPACE`.
  private var ambiguousNames: Set<String> = []
  var diagnostics = BridgeDiagnostics()
  /// VirtualServices some route refers to.
  private(set) var referenced: Set<ObjectKey> = []
  /// Indexes into `manifests.pods`, ascending, by namespace and by namespace and label: every route
  /// target looks its pods up, and scanning all pods for each made large manifests quadratic.
  private var podsInNamespace: [String: [Int]] = [:]
  private var podsWithLabel: [PodLabel: [Int]] = [:]
  /// Indexes into `manifests.endpointSlices`, in order, by the Service they belong to.
  private var slicesOfService: [ObjectKey: [Int]] = [:]

  private struct PodLabel: Hashable {
    var namespace: String
    var key: String
    var value: String
  }

  struct ObjectKey: Hashable, Sendable {
    var namespace: String
    var name: String
  }

  init(_ m: Manifests) {
    manifests = m
    var namespaces: [String: Set<String>] = [:]
    for vs in m.virtualServices {
      let key = ObjectKey(namespace: vs.meta.namespace, name: vs.meta.name)
      if let first = virtualServices[key] {
        diagnostics.error(
          "VirtualService '\(vs.meta.namespace)/\(vs.meta.name)' is defined twice (first at \(first.location))",
          at: vs.location)
      } else {
        virtualServices[key] = vs
      }
      namespaces[vs.meta.name, default: []].insert(vs.meta.namespace)
    }
    for s in m.services {
      services[ObjectKey(namespace: s.meta.namespace, name: s.meta.name)] = s
      namespaces[s.meta.name, default: []].insert(s.meta.namespace)
    }
    for r in m.routes {
      routes[ObjectKey(namespace: r.meta.namespace, name: r.meta.name)] = r
    }
    for (i, slice) in m.endpointSlices.enumerated() {
      guard let service = slice.serviceName else { continue }
      slicesOfService[ObjectKey(namespace: slice.meta.namespace, name: service), default: []]
        .append(i)
    }
    for (i, pod) in m.pods.enumerated() {
      podsInNamespace[pod.meta.namespace, default: []].append(i)
      for (key, value) in pod.meta.labels {
        podsWithLabel[PodLabel(namespace: pod.meta.namespace, key: key, value: value), default: []]
          .append(i)
      }
    }
    ambiguousNames = Set(namespaces.filter { $0.value.count > 1 }.map(\.key))
  }

  func route(named name: String, namespace: String) -> Route? {
    routes[ObjectKey(namespace: namespace, name: name)]
  }

  /// The pods a selector picks, in a VirtualService's namespace.
  func pods(_ selector: ProxySelector?, namespace: String) -> [Pod] {
    podIndexes(selector, namespace: namespace).map { manifests.pods[$0] }
  }

  /// The same, as indexes into `manifests.pods`.
  func podIndexes(_ selector: ProxySelector?, namespace: String) -> [Int] {
    switch selector {
    case nil:
      return []
    case .labels(let match, let expressions):
      return candidates(namespace: namespace, labels: match).filter { i in
        let pod = manifests.pods[i]
        return match.allSatisfy { pod.meta.labels[$0.key] == $0.value }
          && expressions.allSatisfy { $0.matches(pod.meta.labels) }
      }
    case .service(let name, let ns):
      guard let s = services[ObjectKey(namespace: ns, name: name)] else { return [] }
      return podIndexes(of: s)
    }
  }

  func pods(of service: KubernetesService) -> [Pod] {
    podIndexes(of: service).map { manifests.pods[$0] }
  }

  func podIndexes(of service: KubernetesService) -> [Int] {
    guard !service.selector.isEmpty else { return [] }
    return candidates(namespace: service.meta.namespace, labels: service.selector).filter { i in
      service.selector.allSatisfy { manifests.pods[i].meta.labels[$0.key] == $0.value }
    }
  }

  /// The pods of `namespace` that may match `labels`: those with its rarest label, or all.
  private func candidates(namespace: String, labels: [String: String]) -> [Int] {
    let lists = labels.map {
      podsWithLabel[PodLabel(namespace: namespace, key: $0.key, value: $0.value)] ?? []
    }
    return lists.min { $0.count < $1.count } ?? podsInNamespace[namespace] ?? []
  }

  func service(named name: String, namespace: String) -> KubernetesService? {
    services[ObjectKey(namespace: namespace, name: name)]
  }

  /// The cluster a named target is reached through; nil (with an error) if it names nothing.
  mutating func cluster(named name: String, from namespace: String, at location: ManifestLocation)
    -> ClusterConfig?
  {
    var parts = name.split(separator: ".").map(String.init)
    var kinds = ["virtualservice", "svc"]
    var ns = namespace
    if parts.count == 5, parts[3] == "cluster", parts[4] == "local",
      parts[2] == "virtualservice" || parts[2] == "svc"
    {
      kinds = [parts[2]]
      ns = parts[1]
      parts = [parts[0]]
    } else if parts.count != 1 {
      diagnostics.error(
        "'\(name)' is not a target name: use NAME (same namespace), NAME.NAMESPACE.virtualservice.cluster.local or NAME.NAMESPACE.svc.cluster.local",
        at: location)
      return nil
    }
    let key = ObjectKey(namespace: ns, name: parts[0])
    let clusterName = ambiguousNames.contains(key.name) ? "\(key.name).\(key.namespace)" : key.name
    if kinds.contains("virtualservice"), let vs = virtualServices[key] {
      referenced.insert(key)
      return cluster(for: vs, named: clusterName, at: location)
    }
    if kinds.contains("svc"), let s = services[key] {
      return cluster(for: s, named: clusterName, pods: pods(of: s), at: location)
    }
    let what =
      kinds == ["svc"]
      ? "Kubernetes Service"
      : kinds == ["virtualservice"] ? "VirtualService" : "VirtualService or Kubernetes Service"
    diagnostics.error("no \(what) '\(key.name)' in namespace '\(key.namespace)'", at: location)
    return nil
  }

  private mutating func cluster(
    for vs: VirtualService, named name: String, at location: ManifestLocation
  ) -> ClusterConfig? {
    let pods = pods(vs.selector, namespace: vs.meta.namespace)
    if vs.declaresListeners && vs.listeners.isEmpty { return nil }  // its listeners had errors
    guard let listener = vs.listeners.first else {
      // A stub: the Service of the same name says how to reach it.
      guard let s = services[ObjectKey(namespace: vs.meta.namespace, name: vs.meta.name)] else {
        diagnostics.error(
          "VirtualService '\(vs.meta.name)' has no listener, and no Kubernetes Service '\(vs.meta.name)' in namespace '\(vs.meta.namespace)' gives its port and protocol",
          at: location)
        return nil
      }
      return cluster(
        for: s, named: name, pods: vs.selector == nil ? self.pods(of: s) : pods, at: location)
    }
    guard let proto = ClusterProtocol(rawValue: listener.protocol.rawValue) else { return nil }
    if listener.protocol == .unixDomainSocket {
      return ClusterConfig(
        name: name, spec: ClusterSpec(protocol: proto, filename: listener.filename),
        endpoints: [EndpointConfig(spec: EndpointSpec(filename: listener.filename))])
    }
    let endpoints = pods.compactMap { p in
      p.ip.map { EndpointConfig(spec: EndpointSpec(address: $0)) }
    }
    if endpoints.isEmpty {
      diagnostics.warning(
        "VirtualService '\(vs.meta.name)' selects no pods with an IP: the cluster '\(name)' has no endpoints",
        at: location)
    }
    return ClusterConfig(
      name: name, spec: ClusterSpec(protocol: proto, port: listener.port), endpoints: endpoints)
  }

  private mutating func cluster(
    for s: KubernetesService, named name: String, pods: [Pod], at location: ManifestLocation
  ) -> ClusterConfig? {
    guard let port = s.ports.first else {
      diagnostics.error("Kubernetes Service '\(s.meta.name)' has no ports", at: location)
      return nil
    }
    guard let proto = ClusterProtocol(rawValue: port.protocol), proto == .udp || proto == .tcp
    else {
      diagnostics.error(
        "Kubernetes Service '\(s.meta.name)' has protocol \(port.protocol); l7mp reaches UDP and TCP Services",
        at: location)
      return nil
    }
    var endpoints: [EndpointConfig] = []
    let slices = (slicesOfService[ObjectKey(namespace: s.meta.namespace, name: s.meta.name)] ?? [])
      .map { manifests.endpointSlices[$0] }
    if !slices.isEmpty {
      for slice in slices {
        let slicePort = slice.ports.first { $0.name == port.name } ?? slice.ports.first
        for a in slice.addresses {
          endpoints.append(EndpointConfig(spec: EndpointSpec(address: a, port: slicePort?.port)))
        }
      }
    } else {
      for pod in pods {
        guard let ip = pod.ip else { continue }
        switch port.targetPort {
        case .number(let n):
          endpoints.append(EndpointConfig(spec: EndpointSpec(address: ip, port: n)))
        case .named(let portName):
          guard let n = pod.namedPorts[portName] else {
            diagnostics.warning(
              "pod '\(pod.meta.name)' has no container port named '\(portName)' (Service '\(s.meta.name)' targetPort)",
              at: location)
            continue
          }
          endpoints.append(EndpointConfig(spec: EndpointSpec(address: ip, port: n)))
        }
      }
      if endpoints.isEmpty, let ip = s.clusterIP, ip != "None", !ip.isEmpty {
        endpoints.append(EndpointConfig(spec: EndpointSpec(address: ip, port: port.port)))
      }
    }
    if endpoints.isEmpty {
      diagnostics.warning(
        "Kubernetes Service '\(s.meta.name)' has no endpoints (no EndpointSlice, ready pod or cluster IP)",
        at: location)
    }
    var defaultPort: Int?
    if case .number(let n) = port.targetPort { defaultPort = n }
    return ClusterConfig(
      name: name, spec: ClusterSpec(protocol: proto, port: defaultPort), endpoints: endpoints)
  }
}
