import Config
import Logging
import Testing

@testable import CRDBridge

/// An in-process proxy state that can be told to fail a call or to forget everything (a restart).
private actor FakeProxy: ReconcileTarget {
  nonisolated let displayName: String
  var config = ProxyConfig()
  var calls: [String] = []
  var failOn: String?
  var unreachable = false

  init(_ name: String) { displayName = name }

  func currentConfig() async throws -> ProxyConfig {
    if unreachable { throw FakeError(message: "connection refused") }
    return config
  }

  func apply(_ step: ReconcileStep) async throws {
    calls.append(step.description)
    if step.description == failOn { throw FakeError(message: "HTTP 500") }
    switch step {
    case .addRulelist(let r): config.rulelists.append(r)
    case .replaceRulelist(let r):
      config.rulelists = config.rulelists.map { $0.name == r.name ? r : $0 }
    case .deleteRulelist(let n): config.rulelists.removeAll { $0.name == n }
    case .addCluster(let c): config.clusters.append(c)
    case .replaceCluster(let c):
      config.clusters = config.clusters.map { $0.name == c.name ? c : $0 }
    case .deleteCluster(let n): config.clusters.removeAll { $0.name == n }
    case .addListener(let l): config.listeners.append(l)
    case .replaceListener(let l):
      config.listeners = config.listeners.map { $0.name == l.name ? l : $0 }
    case .deleteListener(let n): config.listeners.removeAll { $0.name == n }
    }
  }

  func set(failOn: String?) { self.failOn = failOn }
  func set(unreachable: Bool) { self.unreachable = unreachable }
  func restart() { config = ProxyConfig() }
  func takeCalls() -> [String] {
    defer { calls = [] }
    return calls
  }
}

private struct FakeError: Error, CustomStringConvertible {
  let message: String
  var description: String { message }
}

@Suite struct ReconcilerTests {
  let logger = Logger(label: "test")
  let desired = ProxyConfig(
    listeners: [
      ListenerConfig(name: "gw", spec: ListenerSpec(protocol: .udp, port: 9001), rules: "gw")
    ],
    clusters: [
      ClusterConfig(
        name: "worker", spec: ClusterSpec(protocol: .udp, port: 9999),
        endpoints: [EndpointConfig(spec: EndpointSpec(address: "127.0.0.3"))])
    ],
    rulelists: [
      RulelistConfig(name: "gw", source: "rulelist gw for UDP { rule a { route to worker } }")
    ])

  @Test func convergesThenStaysQuiet() async {
    let proxy = FakeProxy("p1")
    let first = await Reconciler.reconcile(proxy, to: desired, logger: logger)
    #expect(first.converged)
    #expect(
      await proxy.takeCalls() == ["POST cluster worker", "POST rulelist gw", "POST listener gw"])
    let second = await Reconciler.reconcile(proxy, to: desired, logger: logger)
    #expect(second.converged && second.applied.isEmpty)
    #expect(await proxy.takeCalls().isEmpty)
  }

  @Test func aFailurePartWayIsFinishedByTheNextPass() async {
    let proxy = FakeProxy("p1")
    await proxy.set(failOn: "POST rulelist gw")
    let first = await Reconciler.reconcile(proxy, to: desired, logger: logger)
    #expect(first.failure == "p1: POST rulelist gw failed: HTTP 500")
    #expect(first.applied.map(\.description) == ["POST cluster worker"])
    await proxy.set(failOn: nil)
    _ = await proxy.takeCalls()
    let second = await Reconciler.reconcile(proxy, to: desired, logger: logger)
    #expect(second.converged)
    #expect(await proxy.takeCalls() == ["POST rulelist gw", "POST listener gw"])
  }

  @Test func aRestartedProxyGetsEverythingAgain() async {
    let proxy = FakeProxy("p1")
    _ = await Reconciler.reconcile(proxy, to: desired, logger: logger)
    await proxy.restart()
    _ = await proxy.takeCalls()
    #expect(await Reconciler.reconcile(proxy, to: desired, logger: logger).converged)
    #expect(await proxy.takeCalls().count == 3)
  }

  @Test func oneUnreachableProxyDoesNotHoldUpTheOthers() async {
    let down = FakeProxy("down")
    await down.set(unreachable: true)
    let up = FakeProxy("up")
    let outcomes = await Reconciler.reconcile([(down, desired), (up, desired)], logger: logger)
    #expect(outcomes.map(\.target) == ["down", "up"])
    #expect(outcomes[0].failure == "cannot read the state of down: connection refused")
    #expect(outcomes[1].converged && outcomes[1].applied.count == 3)
  }
}
