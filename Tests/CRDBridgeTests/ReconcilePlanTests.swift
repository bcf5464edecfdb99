import Config
import Testing

@testable import CRDBridge

/// A proxy's object store as the control API changes it, refusing what a real proxy refuses:
/// adding a name that exists, replacing or deleting one that does not, a listener whose rule
/// source is missing (the bridge's convention: one rule source per listener, named after it), and
/// a rule source that routes to a missing cluster. The simulated sources are
/// `version:cluster,cluster`: the clusters they route to after the colon.
private struct SimulatedProxy {
  var config = ProxyConfig()

  mutating func apply(_ step: ReconcileStep) throws {
    func add<T>(_ list: inout [T], _ x: T, _ name: (T) -> String) throws {
      guard !list.contains(where: { name($0) == name(x) }) else { throw Failure("\(step): exists") }
      list.append(x)
    }
    func replace<T>(_ list: inout [T], _ x: T, _ name: (T) -> String) throws {
      guard let i = list.firstIndex(where: { name($0) == name(x) }) else {
        throw Failure("\(step): missing")
      }
      list[i] = x
    }
    func delete<T>(_ list: inout [T], _ n: String, _ name: (T) -> String) throws {
      guard let i = list.firstIndex(where: { name($0) == n }) else {
        throw Failure("\(step): missing")
      }
      list.remove(at: i)
    }
    switch step {
    case .addRulelist(let r): try add(&config.rulelists, r, \.name)
    case .replaceRulelist(let r): try replace(&config.rulelists, r, \.name)
    case .deleteRulelist(let n): try delete(&config.rulelists, n, \.name)
    case .addCluster(let c): try add(&config.clusters, c, \.name)
    case .replaceCluster(let c): try replace(&config.clusters, c, \.name)
    case .deleteCluster(let n): try delete(&config.clusters, n, \.name)
    case .addListener(let l): try add(&config.listeners, l, \.name)
    case .replaceListener(let l): try replace(&config.listeners, l, \.name)
    case .deleteListener(let n): try delete(&config.listeners, n, \.name)
    }
    try checkReferences(after: step)
  }

  func checkReferences(after step: ReconcileStep) throws {
    for l in config.listeners where !config.rulelists.contains(where: { $0.name == l.rules }) {
      throw Failure("after \(step): listener \(l.name) has no rule source \(l.rules)")
    }
    for r in config.rulelists {
      let targets =
        (r.source ?? "").split(separator: ":").dropFirst().first?.split(separator: ",") ?? []
      for c in targets where !config.clusters.contains(where: { $0.name == c }) {
        throw Failure("after \(step): rule source \(r.name) routes to missing cluster \(c)")
      }
    }
  }
}

private struct Failure: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}

/// A small deterministic generator (SplitMix64), so failures reproduce from the seed.
private struct SplitMix {
  var state: UInt64
  mutating func next(_ n: Int) -> Int {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return Int((z ^ (z >> 31)) % UInt64(n))
  }
}

@Suite struct ReconcilePlanTests {
  static func listener(_ name: String, port: Int) -> ListenerConfig {
    ListenerConfig(name: name, spec: ListenerSpec(protocol: .udp, port: port), rules: name)
  }
  static func cluster(_ name: String, address: String) -> ClusterConfig {
    ClusterConfig(
      name: name, spec: ClusterSpec(protocol: .udp, port: 9999),
      endpoints: [EndpointConfig(spec: EndpointSpec(address: address))])
  }
  static func rules(_ name: String, _ text: String) -> RulelistConfig {
    RulelistConfig(name: name, source: text)
  }

  @Test func equalConfigsNeedNothing() {
    let c = ProxyConfig(
      listeners: [Self.listener("gw", port: 9001)],
      clusters: [Self.cluster("worker", address: "127.0.0.3")],
      rulelists: [Self.rules("gw", "rulelist gw for UDP { rule a { route to worker } }")])
    #expect(ReconcilePlan.steps(from: c, to: c).isEmpty)
  }

  @Test func aChangedRuleIsReplacedInPlaceAndNothingElseIsTouched() {
    let old = ProxyConfig(
      listeners: [Self.listener("gw", port: 9001)],
      clusters: [Self.cluster("worker", address: "127.0.0.3")],
      rulelists: [
        Self.rules(
          "gw", "rulelist gw for UDP { rule a when UDP.src_port == 9001 { route to worker } }")
      ])
    var new = old
    new.rulelists[0].source =
      "rulelist gw for UDP { rule a when UDP.src_port == 9002 { route to worker } }"
    #expect(ReconcilePlan.steps(from: old, to: new) == [.replaceRulelist(new.rulelists[0])])
  }

  @Test func aRestartedProxyGetsEverythingInDependencyOrder() {
    let desired = ProxyConfig(
      listeners: [Self.listener("gw", port: 9001)],
      clusters: [Self.cluster("worker", address: "127.0.0.3")],
      rulelists: [Self.rules("gw", "…")])
    #expect(
      ReconcilePlan.steps(from: ProxyConfig(), to: desired).map(\.description) == [
        "POST cluster worker", "POST rulelist gw", "POST listener gw",
      ])
  }

  @Test func removalGoesListenerFirst() {
    let old = ProxyConfig(
      listeners: [Self.listener("gw", port: 9001)],
      clusters: [Self.cluster("worker", address: "127.0.0.3")],
      rulelists: [Self.rules("gw", "…")])
    #expect(
      ReconcilePlan.steps(from: old, to: ProxyConfig()).map(\.description) == [
        "DELETE listener gw", "DELETE rulelist gw", "DELETE cluster worker",
      ])
  }

  /// Random pairs of configurations: applying the plan to a proxy that refuses invalid states
  /// never fails, reaches the desired objects, and planning again gives nothing.
  @Test(arguments: 0..<400)
  func randomPlansConvergeThroughValidStates(seed: Int) throws {
    var rng = SplitMix(state: UInt64(seed) &* 0x1234_5678_9ABC_DEF1 &+ 1)
    let clusterNames = ["a", "b", "c", "d"]
    func randomConfig() -> ProxyConfig {
      var config = ProxyConfig()
      config.clusters = clusterNames.filter { _ in rng.next(3) > 0 }.map {
        Self.cluster($0, address: "127.0.0.\(1 + rng.next(3))")
      }
      for i in 0..<rng.next(4) {
        let name = "l\(i)"
        let targets = config.clusters.map(\.name).filter { _ in rng.next(2) == 0 }
        config.rulelists.append(
          Self.rules(name, "v\(rng.next(3)):" + targets.joined(separator: ",")))
        config.listeners.append(Self.listener(name, port: 9000 + rng.next(3)))
      }
      return config
    }
    let actual = randomConfig()
    let desired = randomConfig()
    var proxy = SimulatedProxy(config: actual)
    for step in ReconcilePlan.steps(from: actual, to: desired) {
      try proxy.apply(step)
    }
    #expect(Set(proxy.config.listeners.map(\.name)) == Set(desired.listeners.map(\.name)))
    #expect(Set(proxy.config.clusters.map(\.name)) == Set(desired.clusters.map(\.name)))
    #expect(Set(proxy.config.rulelists.map(\.name)) == Set(desired.rulelists.map(\.name)))
    #expect(ReconcilePlan.steps(from: proxy.config, to: desired).isEmpty)
  }
}
