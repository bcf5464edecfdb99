import Config
import Proxy
import RuleLang

/// A `ProxyControl` that keeps objects in dictionaries, records every call, and fails the next
/// call with `failNext` when set: the control API is tested against it, without a data plane.
actor FakeProxyControl: ProxyControl {
  var listenerTable: [String: ListenerConfig] = [:]
  var clusterTable: [String: ClusterConfig] = [:]
  var rulelistTable: [String: RulelistConfig] = [:]
  var sessionList: [SessionInfo] = []
  var ruleList: [RuleStatus] = []
  var routeList: [RouteStatus] = []
  var metrics = "# TYPE l7mp_packets_total counter\nl7mp_packets_total{listener=\"l\"} 7\n"
  var ready = true
  /// The error the next fallible call throws (then cleared).
  var failNext: ControlError?
  /// `"addListener l1"`, `"deleteSession s1"`…, in call order.
  private(set) var calls: [String] = []

  func set(ready: Bool) { self.ready = ready }
  func set(failNext: ControlError?) { self.failNext = failNext }
  func set(sessions: [SessionInfo]) { sessionList = sessions }
  func set(rules: [RuleStatus], routes: [RouteStatus]) {
    ruleList = rules
    routeList = routes
  }
  func seed(listener: ListenerConfig) { listenerTable[listener.name] = listener }
  func seed(cluster: ClusterConfig) { clusterTable[cluster.name] = cluster }
  func seed(rulelist: RulelistConfig) { rulelistTable[rulelist.name] = rulelist }

  private func record(_ call: String) throws(ControlError) {
    calls.append(call)
    if let error = failNext {
      failNext = nil
      throw error
    }
  }

  func listeners() -> [ListenerConfig] { listenerTable.values.sorted { $0.name < $1.name } }
  func addListener(_ listener: ListenerConfig) throws(ControlError) {
    try record("addListener \(listener.name)")
    guard listenerTable[listener.name] == nil else {
      throw .conflict("listener '\(listener.name)' exists")
    }
    listenerTable[listener.name] = listener
  }
  func putListener(_ listener: ListenerConfig) throws(ControlError) -> Bool {
    try record("putListener \(listener.name)")
    return listenerTable.updateValue(listener, forKey: listener.name) != nil
  }
  func deleteListener(named name: String) throws(ControlError) {
    try record("deleteListener \(name)")
    guard listenerTable.removeValue(forKey: name) != nil else {
      throw .notFound(kind: "listener", name: name)
    }
  }

  func clusters() -> [ClusterConfig] { clusterTable.values.sorted { $0.name < $1.name } }
  func addCluster(_ cluster: ClusterConfig) throws(ControlError) {
    try record("addCluster \(cluster.name)")
    guard clusterTable[cluster.name] == nil else {
      throw .conflict("cluster '\(cluster.name)' exists")
    }
    clusterTable[cluster.name] = cluster
  }
  func putCluster(_ cluster: ClusterConfig) throws(ControlError) -> Bool {
    try record("putCluster \(cluster.name)")
    return clusterTable.updateValue(cluster, forKey: cluster.name) != nil
  }
  func deleteCluster(named name: String) throws(ControlError) {
    try record("deleteCluster \(name)")
    guard clusterTable.removeValue(forKey: name) != nil else {
      throw .notFound(kind: "cluster", name: name)
    }
  }

  func rulelists() -> [RulelistConfig] { rulelistTable.values.sorted { $0.name < $1.name } }
  func addRulelist(_ rulelist: RulelistConfig) throws(ControlError) -> [Diagnostic] {
    try record("addRulelist \(rulelist.name)")
    guard rulelistTable[rulelist.name] == nil else {
      throw .conflict("rulelist '\(rulelist.name)' exists")
    }
    let warnings = try Self.check(rulelist)
    rulelistTable[rulelist.name] = rulelist
    return warnings
  }
  func putRulelist(_ rulelist: RulelistConfig) throws(ControlError) -> [Diagnostic] {
    try record("putRulelist \(rulelist.name)")
    let warnings = try Self.check(rulelist)
    rulelistTable[rulelist.name] = rulelist
    return warnings
  }

  /// The real checker, as the runtime runs it: errors refuse the rulelist, warnings are returned.
  static func check(_ rulelist: RulelistConfig) throws(ControlError) -> [Diagnostic] {
    let checked = RuleChecker.check(text: rulelist.source ?? "", name: rulelist.name)
    if checked.hasErrors {
      throw .invalidRules(source: checked.source, diagnostics: checked.diagnostics)
    }
    return checked.diagnostics
  }
  func deleteRulelist(named name: String) throws(ControlError) {
    try record("deleteRulelist \(name)")
    guard rulelistTable.removeValue(forKey: name) != nil else {
      throw .notFound(kind: "rulelist", name: name)
    }
  }

  func rules() -> [RuleStatus] { ruleList }
  func routes() -> [RouteStatus] { routeList }
  func sessions() -> [SessionInfo] { sessionList }
  func deleteSession(named name: String) throws(ControlError) {
    try record("deleteSession \(name)")
    guard let i = sessionList.firstIndex(where: { $0.name == name }) else {
      throw .notFound(kind: "session", name: name)
    }
    sessionList.remove(at: i)
  }

  func metricsText() -> String { metrics }
  func isReady() -> Bool { ready }
}
