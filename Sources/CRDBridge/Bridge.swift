import Config

/// One listener's rules in the rule language.
public struct TranslatedListener: Sendable {
  public var virtualService: ObjectMeta
  public var listener: VirtualListener
  /// The rulelist named after the listener (checked and compiled), or nil if it had errors.
  public var source: String?
}

/// Pods that run the same VirtualServices, and the configuration each of them gets.
public struct ProxySet: Sendable {
  public struct Member: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var ip: String?
  }

  /// The VirtualServices it runs, `namespace/name` joined by `+`.
  public var name: String
  public var pods: [Member]
  public var config: ProxyConfig
}

/// VirtualServices (with Routes, Services, EndpointSlices, Pods) → rule source per listener and a
/// `ProxyConfig` per proxy set, with every finding at its manifest position.
public struct Translation: Sendable {
  public var diagnostics: BridgeDiagnostics
  public var listeners: [TranslatedListener]
  public var proxySets: [ProxySet]

  /// The l7mp control API's port: a TCP or WebSocket listener on it clashes on every proxy.
  public static let apiPort = AdminConfig.defaultPort

  public init(_ manifests: Manifests, diagnostics: BridgeDiagnostics = BridgeDiagnostics()) {
    var diagnostics = diagnostics
    var resolver = TargetResolver(manifests)
    var listeners: [TranslatedListener] = []
    /// Per VirtualService (by index): each listener's config, rulelist and clusters.
    var perServiceList:
      [Int: [(ListenerConfig, RulelistConfig?, [ClusterConfig], VirtualListener)]] =
        [:]
    for (i, vs) in manifests.virtualServices.enumerated() {
      if !vs.isStub && vs.selector == nil {
        diagnostics.warning(
          "VirtualService '\(vs.meta.name)' has listeners but no selector: no proxy runs them (add spec.selector.matchLabels)",
          at: vs.location)
      }
      for l in vs.listeners {
        var t = ListenerTranslator(vs, l)
        let source = t.translate(resolver: &resolver)
        for d in t.diagnostics.all { diagnostics.append(d) }
        listeners.append(TranslatedListener(virtualService: vs.meta, listener: l, source: source))
        if l.port == Translation.apiPort, l.protocol == .tcp || l.protocol == .webSocket {
          diagnostics.warning(
            "listener '\(l.name)' uses port \(Translation.apiPort), the l7mp control API's port (TCP): it clashes on every proxy",
            at: l.portLocation)
        }
        let config = ListenerConfig(
          name: l.name,
          spec: ListenerSpec(
            protocol: l.protocol, address: l.address ?? "0.0.0.0", port: l.port,
            filename: l.filename),
          rules: l.name)
        let rulelist = source.map { RulelistConfig(name: l.name, source: $0) }
        perServiceList[i, default: []].append(
          (config, rulelist, t.clusters.values.sorted { $0.name < $1.name }, l))
      }
    }
    for d in resolver.diagnostics.all { diagnostics.append(d) }

    // Unused stubs: a VirtualService without a listener that no route names.
    for vs in manifests.virtualServices where vs.isStub {
      let key = TargetResolver.ObjectKey(namespace: vs.meta.namespace, name: vs.meta.name)
      if !resolver.referenced.contains(key) {
        diagnostics.warning(
          "VirtualService '\(vs.meta.name)' has no listener and no route refers to it (unused)",
          at: vs.location)
      }
    }

    // Proxy sets: pods grouped by the VirtualServices (with listeners) that select them.
    var servicesOfPod: [Int: [Int]] = [:]
    for (i, vs) in manifests.virtualServices.enumerated() where !vs.isStub && vs.selector != nil {
      let pods = resolver.podIndexes(vs.selector, namespace: vs.meta.namespace)
      if pods.isEmpty {
        diagnostics.warning(
          "VirtualService '\(vs.meta.name)' selects no pods: its listeners run nowhere",
          at: vs.selectorLocation ?? vs.location)
      }
      for p in pods { servicesOfPod[p, default: []].append(i) }
    }
    var groups: [[Int]: [Int]] = [:]
    for (pod, services) in servicesOfPod { groups[services, default: []].append(pod) }
    var proxySets: [ProxySet] = []
    var reportedClashes: Set<String> = []
    for (services, podIndexes) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
      var config = ProxyConfig()
      var clusters: [String: ClusterConfig] = [:]
      var placed: [(VirtualListener, VirtualService)] = []
      for s in services {
        let vs = manifests.virtualServices[s]
        for (listener, rulelist, cs, l) in perServiceList[s] ?? [] {
          if let (other, otherVS) = placed.first(where: { Translation.clashes($0.0, l) }) {
            let what = other.name == l.name ? "has the same name as" : "uses the same port as"
            let message =
              "listener '\(l.name)' \(what) listener '\(other.name)' of VirtualService '\(otherVS.meta.name)' (\(other.location)) on the same proxies"
            if reportedClashes.insert(message).inserted {
              diagnostics.warning(message, at: other.name == l.name ? l.location : l.portLocation)
            }
            if other.name == l.name { continue }
          }
          placed.append((l, vs))
          config.listeners.append(listener)
          if let r = rulelist { config.rulelists.append(r) }
          for c in cs {
            if let existing = clusters[c.name], existing != c {
              diagnostics.error(
                "cluster '\(c.name)' means different things on the same proxies; give the inline targets names",
                at: l.location)
            }
            clusters[c.name] = c
          }
        }
      }
      config.clusters = clusters.values.sorted { $0.name < $1.name }
      let pods = podIndexes.sorted().map { manifests.pods[$0] }.map {
        ProxySet.Member(name: $0.meta.name, namespace: $0.meta.namespace, ip: $0.ip)
      }
      // The bridge reaches each proxy's control API at podIP:1234; one pod binds its own address.
      if pods.count == 1, let ip = pods[0].ip { config.admin.address = ip }
      let name = services.map {
        "\(manifests.virtualServices[$0].meta.namespace)/\(manifests.virtualServices[$0].meta.name)"
      }.joined(separator: "+")
      proxySets.append(ProxySet(name: name, pods: pods, config: config))
    }
    self.diagnostics = diagnostics
    self.listeners = listeners
    self.proxySets = proxySets
  }

  /// Two listeners on one proxy that cannot both bind: the same name, or the same port of the same
  /// transport family (UDP; TCP and WebSocket) on overlapping addresses, or the same socket file.
  static func clashes(_ a: VirtualListener, _ b: VirtualListener) -> Bool {
    if a.name == b.name { return true }
    if a.protocol == .unixDomainSocket || b.protocol == .unixDomainSocket {
      return a.protocol == b.protocol && a.filename == b.filename
    }
    let family = { (l: VirtualListener) in l.protocol == .udp ? "udp" : "tcp" }
    let anyAddress = { (l: VirtualListener) in l.address == nil || l.address == "0.0.0.0" }
    return family(a) == family(b) && a.port == b.port
      && (a.address == b.address || anyAddress(a) || anyAddress(b))
  }
}

/// Reads manifest files and translates them.
public enum Bridge {
  /// `files`: (name, bytes) pairs, read in order.
  public static func translate(_ files: [(name: String, bytes: [UInt8])]) -> Translation {
    var manifests = Manifests()
    var diagnostics = BridgeDiagnostics()
    for f in files {
      ManifestReader.read(f.bytes, file: f.name, into: &manifests, diagnostics: &diagnostics)
    }
    return Translation(manifests, diagnostics: diagnostics)
  }
}
