import Config
import Foundation
import Logging
import NIOCore
import NIOPosix
import RuleLang
import Synchronization
import VM

/// The data plane: loaded rule sources, clusters, listeners and live sessions, changed through
/// `ProxyControl` (the control API, `l7mp run`'s config file) while traffic flows.
public final class ProxyRuntime: ProxyControl, Sendable {
  let group: any EventLoopGroup
  private let givenDatagramLoop: DatagramLoop?
  let metrics = ProxyMetrics()
  /// Rulelist `file:` paths are relative to it (the config file's folder).
  let baseDirectory: String?

  private struct State {
    var sources: [String: CompiledRules] = [:]
    var sourceOrder: [String] = []
    var listeners: [String: ListenerRuntime] = [:]
    var listenerOrder: [String] = []
    var clusters: [String: ClusterRuntime] = [:]
    var clusterOrder: [String] = []
    var sessions: [String: Session] = [:]
  }

  private let state = Mutex(State())
  private let sessionCounter = Atomic<Int>(0)

  /// `group` runs WebSocket and stream listeners and connections, `datagramLoop` UDP listeners
  /// and their sessions (nil: the process's `DatagramLoop.shared()`).
  public init(
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    datagramLoop: DatagramLoop? = nil, baseDirectory: String? = nil
  ) {
    self.group = group
    self.givenDatagramLoop = datagramLoop
    self.baseDirectory = baseDirectory
  }

  /// Loads a whole configuration: rulelists, then clusters, then listeners (which bind).
  public func load(_ config: ProxyConfig) async throws(ControlError) {
    for r in config.rulelists { _ = try await addRulelist(r) }
    for c in config.clusters { try await addCluster(c) }
    for l in config.listeners { try await addListener(l) }
  }

  /// Closes every listener and session.
  public func shutdown() async {
    let (listeners, sessions) = state.withLock { s in
      (Array(s.listeners.values), Array(s.sessions.values))
    }
    for l in listeners { await l.close() }
    for session in sessions {
      try? await session.eventLoop.submit { session.close() }.get()
    }
  }

  // MARK: listeners

  public func listeners() async -> [ListenerConfig] {
    state.withLock { s in s.listenerOrder.compactMap { s.listeners[$0]?.config } }
  }

  public func addListener(_ config: ListenerConfig) async throws(ControlError) {
    let taken = state.withLock { $0.listeners[config.name] != nil }
    if taken { throw .conflict("a listener named '\(config.name)' exists") }
    guard config.spec.idleTimeout > 0, config.spec.idleTimeout.isFinite else {
      throw .invalid(
        "listener '\(config.name)': idle_timeout must be a positive number of seconds, not \(config.spec.idleTimeout)"
      )
    }
    let rules = try resolveRules(for: config)
    let listener = ListenerRuntime(
      config: config, counters: metrics.listener(config.name), runtime: self, rules: rules)
    let bound: any BoundListener
    do {
      bound = try await bind(listener)
    } catch {
      throw .failed("listener '\(config.name)': \(error)")
    }
    listener.bound = bound
    let added = state.withLock { s -> Bool in
      guard s.listeners[config.name] == nil else { return false }
      s.listeners[config.name] = listener
      s.listenerOrder.append(config.name)
      return true
    }
    if !added {
      await bound.close()
      throw .conflict("a listener named '\(config.name)' exists")
    }
    proxyLogger.info(
      "listener up",
      metadata: [
        "listener": "\(config.name)", "protocol": "\(config.spec.protocol.rawValue)",
        "address": "\(bound.localAddress.map(\.displayText) ?? "?")",
        // Where its packets are handled (a UDP listener: the data path, or NIO's loops when
        // its routes lead to WebSocket, TCP or Unix-socket clusters).
        "thread": "\(bound is UDPBoundListener ? "udp data path" : "nio")",
      ])
  }

  @discardableResult
  public func putListener(_ config: ListenerConfig) async throws(ControlError) -> Bool {
    guard let old = state.withLock({ $0.listeners[config.name] }) else {
      try await addListener(config)
      return false
    }
    if old.config.spec == config.spec {
      // Same socket: only the rules change, for the next packet; sessions stay.
      let rules = try resolveRules(for: config)
      old.config = config
      old.setRules(rules)
      return true
    }
    try await deleteListener(named: config.name)
    try await addListener(config)
    return true
  }

  public func deleteListener(named name: String) async throws(ControlError) {
    let removed = state.withLock { s -> ListenerRuntime? in
      guard let l = s.listeners.removeValue(forKey: name) else { return nil }
      s.listenerOrder.removeAll { $0 == name }
      return l
    }
    guard let removed else { throw .notFound(kind: "listener", name: name) }
    await removed.close()
    await closeOrphans { $0.listener === removed }
  }

  /// Sessions whose route says `remove_orphan_sessions = true` end when their listener or a
  /// cluster of their route is removed (any listener kind); the others stay until idle.
  private func closeOrphans(where orphaned: @Sendable (Session) -> Bool) async {
    let sessions = state.withLock { Array($0.sessions.values) }
    for session in sessions where session.route.removeOrphanSessions && orphaned(session) {
      try? await session.eventLoop.submit { session.close() }.get()
    }
  }

  /// Whether a UDP listener runs on the UDP data path (`DatagramLoop`) rather than as a NIO
  /// channel (tests).
  func isOnDataPath(listener name: String) -> Bool {
    state.withLock { $0.listeners[name] }?.bound is UDPBoundListener
  }

  /// The bound address of a listener (tests bind port 0 and ask which port they got).
  public func localAddress(ofListener name: String) -> SocketAddress? {
    state.withLock { $0.listeners[name] }?.localAddress
  }

  private func bind(_ listener: ListenerRuntime) async throws -> any BoundListener {
    switch listener.config.spec.protocol {
    case .udp: return try await UDPListener.bind(listener, runtime: self)
    case .webSocket:
      return ChannelListener(channel: try await WebSocketListener.bind(listener, on: group))
    case .tcp, .unixDomainSocket:
      return ChannelListener(channel: try await StreamListener.bind(listener, on: group))
    }
  }

  /// The UDP data path: the one given at init, or the process's.
  func datagramLoop() throws -> DatagramLoop {
    if let givenDatagramLoop { return givenDatagramLoop }
    return try DatagramLoop.shared()
  }

  /// The listener's rulelist, which must be loaded and be for the listener's protocol.
  func resolveRules(for config: ListenerConfig) throws(ControlError) -> RulesSnapshot {
    let found = state.withLock { s in Self.findRulelist(config.rules, in: s) }
    guard let found else {
      throw .invalid(
        "listener '\(config.name)': no loaded rulelist is named '\(config.rules)'; load its rule source first (POST /api/v1/rulelists)"
      )
    }
    let info = found.program.program.rulelists[found.rulelist]
    guard info.protocolName == config.spec.protocol.rawValue else {
      throw .invalid(
        "listener '\(config.name)' is \(config.spec.protocol.rawValue) but rulelist '\(config.rules)' is for \(info.protocolName)"
      )
    }
    return found
  }

  private static func findRulelist(_ name: String, in s: State) -> RulesSnapshot? {
    for key in s.sourceOrder {
      guard let rules = s.sources[key], let k = rules.program.program.rulelist(named: name) else {
        continue
      }
      return RulesSnapshot(rules: rules, rulelist: k)
    }
    return nil
  }

  // MARK: clusters

  public func clusters() async -> [ClusterConfig] {
    state.withLock { s in s.clusterOrder.compactMap { s.clusters[$0]?.config } }
  }

  public func addCluster(_ config: ClusterConfig) async throws(ControlError) {
    try validate(config)
    let cluster = ClusterRuntime(config, counters: metrics.cluster(config.name))
    let added = state.withLock { s -> Bool in
      guard s.clusters[config.name] == nil else { return false }
      s.clusters[config.name] = cluster
      s.clusterOrder.append(config.name)
      return true
    }
    if !added { throw .conflict("a cluster named '\(config.name)' exists") }
  }

  /// Live sessions keep the cluster they started with; new sessions use the new one.
  @discardableResult
  public func putCluster(_ config: ClusterConfig) async throws(ControlError) -> Bool {
    try validate(config)
    let cluster = ClusterRuntime(config, counters: metrics.cluster(config.name))
    return state.withLock { s in
      let existed = s.clusters[config.name] != nil
      s.clusters[config.name] = cluster
      if !existed { s.clusterOrder.append(config.name) }
      return existed
    }
  }

  public func deleteCluster(named name: String) async throws(ControlError) {
    let removed = state.withLock { s -> Bool in
      guard s.clusters.removeValue(forKey: name) != nil else { return false }
      s.clusterOrder.removeAll { $0 == name }
      return true
    }
    if !removed { throw .notFound(kind: "cluster", name: name) }
    await closeOrphans { s in
      s.route.destination == name || s.route.via.contains(name) || s.route.returnVia.contains(name)
    }
  }

  private func validate(_ config: ClusterConfig) throws(ControlError) {
    switch config.spec.protocol {
    case .echo, .discard: return
    default:
      if config.endpoints.isEmpty {
        throw .invalid(
          "cluster '\(config.name)': a \(config.spec.protocol.rawValue) cluster needs at least one endpoint"
        )
      }
    }
  }

  func cluster(named name: String) -> ClusterRuntime? {
    state.withLock { $0.clusters[name] }
  }

  // MARK: rulelists

  public func rulelists() async -> [RulelistConfig] {
    state.withLock { s in s.sourceOrder.compactMap { s.sources[$0]?.config } }
  }

  public func addRulelist(_ config: RulelistConfig) async throws(ControlError) -> [Diagnostic] {
    let compiled = try compile(config)
    try state.withLock { s throws(ControlError) in
      guard s.sources[config.name] == nil else {
        throw .conflict("a rulelist source named '\(config.name)' exists")
      }
      try Self.checkNoClash(compiled, replacing: nil, in: s)
      s.sources[config.name] = compiled
      s.sourceOrder.append(config.name)
    }
    return compiled.warnings
  }

  /// Replaces a source: every listener running one of its rulelists switches to the new program
  /// for its next packet. Refused (nothing changed) when a listener's rulelist would disappear.
  @discardableResult
  public func putRulelist(_ config: RulelistConfig) async throws(ControlError) -> [Diagnostic] {
    let compiled = try compile(config)
    try state.withLock { s throws(ControlError) in
      try Self.checkNoClash(compiled, replacing: config.name, in: s)
      let existed = s.sources[config.name] != nil
      var next = s
      next.sources[config.name] = compiled
      if !existed { next.sourceOrder.append(config.name) }
      var updates: [(ListenerRuntime, RulesSnapshot)] = []
      for l in s.listeners.values {
        let rulelist = l.config.rules
        guard let found = Self.findRulelist(rulelist, in: next) else {
          throw .conflict(
            "rulelist '\(rulelist)' is used by listener '\(l.name)' and the new source '\(config.name)' does not define it; nothing was changed"
          )
        }
        updates.append((l, found))
      }
      s = next
      for (l, rules) in updates { l.setRules(rules) }
    }
    return compiled.warnings
  }

  public func deleteRulelist(named name: String) async throws(ControlError) {
    try state.withLock { s throws(ControlError) in
      guard let source = s.sources[name] else { throw .notFound(kind: "rulelist", name: name) }
      let defined = Set(source.rulelistNames)
      if let user = s.listeners.values.first(where: { defined.contains($0.config.rules) }) {
        throw .conflict(
          "rulelist '\(user.config.rules)' of source '\(name)' is used by listener '\(user.name)'")
      }
      s.sources[name] = nil
      s.sourceOrder.removeAll { $0 == name }
    }
  }

  private func compile(_ config: RulelistConfig) throws(ControlError) -> CompiledRules {
    let text: String
    let sourceName: String
    if let source = config.source {
      text = source
      sourceName = config.name
    } else if let file = config.file {
      let path =
        file.hasPrefix("/") || baseDirectory == nil
        ? file : URL(fileURLWithPath: baseDirectory!).appendingPathComponent(file).path
      guard let data = FileManager.default.contents(atPath: path),
        let s = String(data: data, encoding: .utf8)
      else {
        throw .invalid("rulelist '\(config.name)': cannot read rule file '\(path)'")
      }
      text = s
      sourceName = path
    } else {
      throw .invalid("rulelist '\(config.name)' has neither 'source' nor 'file'")
    }
    return try CompiledRules.compile(config, text: text, sourceName: sourceName, metrics: metrics)
  }

  /// Rulelist names are global: two sources may not define the same one.
  private static func checkNoClash(_ c: CompiledRules, replacing: String?, in s: State)
    throws(ControlError)
  {
    for (key, other) in s.sources where key != replacing {
      if let clash = c.rulelistNames.first(where: { other.rulelistNames.contains($0) }) {
        throw .conflict(
          "rulelist '\(clash)' is already defined by source '\(key)'; nothing was changed")
      }
    }
  }

  // MARK: rules and routes

  public func rules() async -> [RuleStatus] {
    let sources = state.withLock { s in s.sourceOrder.compactMap { s.sources[$0] } }
    return sources.flatMap { compiled -> [RuleStatus] in
      let p = compiled.program.program
      return p.rules.enumerated().map { k, rule in
        RuleStatus(
          name: rule.name, rulelist: p.rulelists[rule.rulelist].name,
          action: Self.actionText(rule.action, p), matches: compiled.matches.value(k))
      }
    }
  }

  public func routes() async -> [RouteStatus] {
    let sources = state.withLock { s in s.sourceOrder.compactMap { s.sources[$0] } }
    return sources.flatMap { compiled -> [RouteStatus] in
      let p = compiled.program.program
      return p.rules.compactMap { rule in
        guard case .route(let k) = rule.action else { return nil }
        let r = p.routes[k]
        return RouteStatus(
          name: p.rulelists[rule.rulelist].name + "/" + rule.name, destination: r.destination,
          ingress: r.via, egress: r.returnVia, retryOn: r.retryOn.rawValue, retries: r.retries,
          timeoutMilliseconds: r.timeout / 1_000_000)
      }
    }
  }

  static func actionText(_ action: RuleAction, _ p: Program) -> String {
    switch action {
    case .route(let k): return "route to " + p.routes[k].description
    case .drop: return "drop"
    case .apply(let l): return "apply " + p.rulelists[l].name
    }
  }

  // MARK: sessions

  func nextSessionName(listener: String) -> String {
    "\(listener)-\(sessionCounter.wrappingAdd(1, ordering: .relaxed).newValue)"
  }

  func register(_ session: Session) {
    state.withLock { $0.sessions[session.name] = session }
  }

  func unregister(_ session: Session) {
    state.withLock { s in
      if s.sessions[session.name] === session { s.sessions[session.name] = nil }
    }
  }

  /// The live sessions themselves (tests on an embedded event loop read them directly).
  var liveSessions: [Session] { state.withLock { Array($0.sessions.values) } }

  public func sessions() async -> [SessionInfo] {
    let live = state.withLock { Array($0.sessions.values) }
    var out: [SessionInfo] = []
    for session in live {
      if let info = try? await session.eventLoop.submit({ session.info }).get() {
        out.append(info)
      }
    }
    return out.sorted { $0.created != $1.created ? $0.created < $1.created : $0.name < $1.name }
  }

  public func deleteSession(named name: String) async throws(ControlError) {
    guard let session = state.withLock({ $0.sessions[name] }) else {
      throw .notFound(kind: "session", name: name)
    }
    try? await session.eventLoop.submit { session.close() }.get()
  }

  // MARK: health

  public func metricsText() async -> String { metrics.text }

  public func isReady() async -> Bool {
    state.withLock { s in s.listeners.values.allSatisfy { $0.bound != nil } }
  }
}
