import Config
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Proxy

/// The data plane through `ProxyControl` and real loopback sockets: rules, sessions, clusters.
@Suite(.serialized) struct ProxyRuntimeTests {
  /// A runtime with one UDP listener on a free port running `rules` (rulelist `l`).
  static func udpProxy(
    _ rules: String, clusters: [ClusterConfig] = [], idleTimeout: Double = 60
  ) async throws -> (ProxyRuntime, Int) {
    let runtime = ProxyRuntime()
    _ = try await runtime.addRulelist(RulelistConfig(name: "rules", source: rules))
    for c in clusters { try await runtime.addCluster(c) }
    let port = freePort()
    try await runtime.addListener(
      ListenerConfig(
        name: "udp",
        spec: ListenerSpec(
          protocol: .udp, address: "127.0.0.1", port: port, idleTimeout: idleTimeout),
        rules: "l"))
    return (runtime, port)
  }

  static let echo = ClusterConfig(name: "echo", spec: ClusterSpec(protocol: .echo))

  static func upstream(_ name: String, _ proto: ClusterProtocol, port: Int) -> ClusterConfig {
    ClusterConfig(
      name: name, spec: ClusterSpec(protocol: proto, port: port),
      endpoints: [EndpointConfig(spec: EndpointSpec(address: "127.0.0.1"))])
  }

  @Test func udpToEchoAndCounters() async throws {
    let (runtime, port) = try await Self.udpProxy(
      "rulelist l for UDP { rule all { route to echo } }", clusters: [Self.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    for k in 0..<5 {
      client.send("hello \(k)", to: port)
      #expect(client.receiveText() == "hello \(k)")
    }
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_packets_total", "listener=\"udp\"") == 5)
    #expect(metric(metrics, "l7mp_listener_packets_out_total", "listener=\"udp\"") == 5)
    #expect(metric(metrics, "l7mp_rule_matches_total", "rule=\"all\"") == 5)
    #expect(metric(metrics, "l7mp_sessions_total", "listener=\"udp\"") == 1)
    let rules = await runtime.rules()
    #expect(rules.map(\.matches) == [5])
  }

  @Test func payloadRoutingAndDrop() async throws {
    let upstream = try await EchoServer.start(
      .udp(host: "127.0.0.1", port: 0), group: MultiThreadedEventLoopGroup.singleton)
    defer { upstream.close(promise: nil) }
    let (runtime, port) = try await Self.udpProxy(
      """
      rulelist l for UDP {
        rule bye when payload starts "BYE" { drop }
        rule a when payload starts "A" { route to echo }
        rule b when payload starts "B" { route to far }
      }
      """,
      clusters: [Self.echo, Self.upstream("far", .udp, port: upstream.localAddress!.port!)])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient(timeout: 0.5)
    client.send("A1", to: port)
    #expect(client.receiveText() == "A1")
    client.send("B1", to: port)
    #expect(client.receiveText() == "B1")
    client.send("BYE", to: port)
    client.send("nothing matches", to: port)
    #expect(client.receive() == nil)
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_drops_total", "reason=\"rules\"") == 2)
    #expect(metric(metrics, "l7mp_cluster_packets_received_total", "cluster=\"far\"") == 1)
    // Two verdicts of one flow: two sessions.
    #expect(await runtime.sessions().count == 2)
  }

  @Test func invalidRulesChangeNothing() async throws {
    let (runtime, _) = try await Self.udpProxy(
      "rulelist l for UDP { rule all { route to echo } }", clusters: [Self.echo])
    defer { Task { await runtime.shutdown() } }
    await #expect {
      try await runtime.putRulelist(
        RulelistConfig(
          name: "rules", source: "rulelist l for UDP { rule x when IP.src_adr == 1.2.3.4 { drop } }"
        ))
    } throws: { error in
      guard case ControlError.invalidRules(_, let d) = error else { return false }
      return d.contains { $0.message.contains("IP.src_adr") }
    }
    #expect(
      await runtime.rulelists().first?.source == "rulelist l for UDP { rule all { route to echo } }"
    )
    // A source that no longer defines the listener's rulelist is refused too.
    await #expect(throws: ControlError.self) {
      try await runtime.putRulelist(
        RulelistConfig(name: "rules", source: "rulelist other for UDP { rule a { drop } }"))
    }
    await #expect(throws: ControlError.self) {
      try await runtime.addListener(
        ListenerConfig(
          name: "x", spec: ListenerSpec(protocol: .udp, port: freePort()), rules: "missing"))
    }
  }

  @Test func sessionsListedAndKilled() async throws {
    let (runtime, port) = try await Self.udpProxy(
      "rulelist l for UDP { rule all { route to echo } }", clusters: [Self.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("x", to: port)
    #expect(client.receiveText() == "x")
    let sessions = await runtime.sessions()
    #expect(sessions.count == 1)
    let s = try #require(sessions.first)
    #expect(s.listener == "udp")
    #expect(s.rule == "l/all")
    #expect(s.source.hasPrefix("127.0.0.1:"))
    #expect(s.packetsIn == 1 && s.packetsOut == 1)
    #expect(s.status == "established")
    try await runtime.deleteSession(named: s.name)
    #expect(await runtime.sessions().isEmpty)
    await #expect(throws: ControlError.self) { try await runtime.deleteSession(named: s.name) }
    // The flow's next packet opens a new session.
    client.send("y", to: port)
    #expect(client.receiveText() == "y")
    let again = await runtime.sessions()
    #expect(again.count == 1 && again.first?.name != s.name)
  }

  @Test func idleSessionsEnd() async throws {
    let (runtime, port) = try await Self.udpProxy(
      "rulelist l for UDP { rule all { route to echo } }", clusters: [Self.echo],
      idleTimeout: 0.2)
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("x", to: port)
    #expect(client.receiveText() == "x")
    #expect(await runtime.sessions().count == 1)
    let deadline = Date().addingTimeInterval(5)
    while await !runtime.sessions().isEmpty, Date() < deadline {
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(await runtime.sessions().isEmpty)
  }

  /// A session with traffic outlives its idle timeout many times over; once quiet, it ends
  /// within the timeout plus the sweep period (a quarter of it).
  @Test func busySessionsStayAndQuietOnesEndOnTime() async throws {
    let (runtime, port) = try await Self.udpProxy(
      "rulelist l for UDP { rule all { route to echo } }", clusters: [Self.echo],
      idleTimeout: 0.3)
    defer { Task { await runtime.shutdown() } }
    let busy = try UDPTestClient()
    let quiet = try UDPTestClient()
    quiet.send("once", to: port)
    #expect(quiet.receiveText() == "once")
    let started = Date()
    for k in 0..<30 {  // 1.5 s of traffic, a datagram every 50 ms
      busy.send("k\(k)", to: port)
      #expect(busy.receiveText() == "k\(k)")
      try await Task.sleep(for: .milliseconds(50))
    }
    let sessions = await runtime.sessions()
    #expect(sessions.count == 1, "the quiet session should have ended, the busy one not")
    #expect(sessions.first?.packetsIn == 30)
    #expect(Date().timeIntervalSince(started) > 1.2)
    let quietSince = Date()
    let deadline = quietSince.addingTimeInterval(5)
    while await !runtime.sessions().isEmpty, Date() < deadline {
      try await Task.sleep(for: .milliseconds(10))
    }
    let ended = Date().timeIntervalSince(quietSince)
    #expect(await runtime.sessions().isEmpty)
    // 0.3 s timeout + 0.075 s sweep period, and some room for a loaded machine.
    #expect(ended >= 0.25 && ended < 2, "ended \(ended) s after the last datagram")
  }

  @Test func ruleSwapUnderTrafficLosesNothing() async throws {
    let upstream = try await EchoServer.start(
      .udp(host: "127.0.0.1", port: 0), group: MultiThreadedEventLoopGroup.singleton)
    defer { upstream.close(promise: nil) }
    let toEcho = "rulelist l for UDP { rule all { route to echo } }"
    let toFar = "rulelist l for UDP { rule all { route to far } }"
    let (runtime, port) = try await Self.udpProxy(
      toEcho, clusters: [Self.echo, Self.upstream("far", .udp, port: upstream.localAddress!.port!)])
    defer { Task { await runtime.shutdown() } }
    let total = 2000
    // The traffic runs on its own thread (its socket calls block), the swaps here, until the
    // traffic is done: every packet must come back, whichever program decided it.
    let done = DoneFlag()
    let traffic = Task.detached { () -> Int in
      await withCheckedContinuation { continuation in
        Thread {
          var answered = 0
          if let client = try? UDPTestClient(timeout: 2) {
            let deadline = Date().addingTimeInterval(60)
            for k in 0..<total where Date() < deadline {
              client.send("packet \(k)", to: port)
              if client.receiveText() == "packet \(k)" { answered += 1 }
            }
          }
          done.set()
          continuation.resume(returning: answered)
        }.start()
      }
    }
    var swaps = 0
    let deadline = Date().addingTimeInterval(60)
    while !done.isSet, Date() < deadline {
      try await runtime.putRulelist(
        RulelistConfig(name: "rules", source: swaps % 2 == 0 ? toFar : toEcho))
      swaps += 1
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(await traffic.value == total)
    #expect(swaps >= 2)
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_packets_total", "listener=\"udp\"") == Double(total))
    #expect(metric(metrics, "l7mp_cluster_packets_received_total", "cluster=\"far\"") > 0)
  }

  @Test func upstreamDownRetriesThenFailsAndOthersStillServed() async throws {
    let closed = freePort(udp: false)
    let (runtime, port) = try await Self.udpProxy(
      """
      rulelist l for UDP {
        rule down when payload starts "down" {
          route to dead with retry_on = "connect-failure", retries = 2, timeout = 500ms
        }
        rule up { route to echo }
      }
      """,
      clusters: [Self.echo, Self.upstream("dead", .tcp, port: closed)])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient(timeout: 0.3)
    client.send("down", to: port)
    #expect(client.receive() == nil)
    let metrics = try await metricsWhen(
      runtime, "l7mp_session_failures_total", "listener=\"udp\"", reaches: 1)
    #expect(metric(metrics, "l7mp_cluster_connect_failures_total", "cluster=\"dead\"") == 3)
    #expect(metric(metrics, "l7mp_session_failures_total", "listener=\"udp\"") == 1)
    let other = try UDPTestClient()
    other.send("still there", to: port)
    #expect(other.receiveText() == "still there")
  }

  @Test func rewriteReachesWebSocketUpstreamThroughStages() async throws {
    let group = MultiThreadedEventLoopGroup.singleton
    let ws = try await EchoServer.start(.webSocket(host: "127.0.0.1", port: 0), group: group)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-uds-\(UUID().uuidString).sock"
    ).path
    let uds = try await EchoServer.start(.uds(path: path), group: group)
    defer {
      ws.close(promise: nil)
      uds.close(promise: nil)
    }
    let (runtime, port) = try await Self.udpProxy(
      """
      rulelist l for UDP {
        rule ask when payload == "headers?" {
          set HTTP.headers.id = 1
          route to ws
        }
        rule chain { route to uds via ws }
      }
      """,
      clusters: [
        Self.upstream("ws", .webSocket, port: ws.localAddress!.port!),
        ClusterConfig(
          name: "uds", spec: ClusterSpec(protocol: .unixDomainSocket),
          endpoints: [EndpointConfig(spec: EndpointSpec(filename: path))]),
      ])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("headers?", to: port)
    let headers = try #require(client.receiveText())
    #expect(headers.contains("id: 1"), "\(headers)")
    let other = try UDPTestClient()
    other.send("through both", to: port)
    #expect(other.receiveText() == "through both")
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_cluster_packets_received_total", "cluster=\"uds\"") == 1)
    #expect(metric(metrics, "l7mp_cluster_packets_received_total", "cluster=\"ws\"") == 2)
  }

  @Test func thousandConcurrentFlows() async throws {
    let upstream = try await EchoServer.start(
      .udp(host: "127.0.0.1", port: 0), group: MultiThreadedEventLoopGroup.singleton)
    defer { upstream.close(promise: nil) }
    let (runtime, port) = try await Self.udpProxy(
      "rulelist l for UDP { rule all { route to far } }",
      clusters: [Self.upstream("far", .udp, port: upstream.localAddress!.port!)])
    defer { Task { await runtime.shutdown() } }
    let n = 1000
    let clients = try (0..<n).map { _ in try UDPTestClient(timeout: 5) }
    // Waves of 100 datagrams in flight; every flow's session stays open to the end.
    var answered = 0
    for wave in stride(from: 0, to: n, by: 100) {
      for k in wave..<wave + 100 { clients[k].send("flow \(k)", to: port) }
      for k in wave..<wave + 100 where clients[k].receiveText() == "flow \(k)" { answered += 1 }
    }
    #expect(answered == n)
    #expect(await runtime.sessions().count == n)
  }

  @Test func largestDatagramsCarriedWholeBothWays() async throws {
    let upstream = try await EchoServer.start(
      .udp(host: "127.0.0.1", port: 0), group: MultiThreadedEventLoopGroup.singleton)
    defer { upstream.close(promise: nil) }
    let (runtime, port) = try await Self.udpProxy(
      """
      rulelist l for UDP {
        rule local when payload starts "A" { route to echo }
        rule far { route to far }
      }
      """,
      clusters: [Self.echo, Self.upstream("far", .udp, port: upstream.localAddress!.port!)])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.raiseBuffers()
    for byte in [UInt8(ascii: "A"), UInt8(ascii: "B")] {
      let big = [UInt8](repeating: byte, count: 65_000)
      client.send(big, to: port)
      #expect(client.receive() == big)
    }
  }
}

/// The value of the first sample of `name` whose labels contain `label`; -1 when absent.
func metric(_ text: String, _ name: String, _ label: String) -> Double {
  for line in text.split(separator: "\n") where line.hasPrefix(name + "{") && line.contains(label) {
    if let v = line.split(separator: " ").last.flatMap({ Double($0) }) { return v }
  }
  return -1
}

/// The runtime's metrics once `name{label}` reaches `value`, or after `seconds` (the caller's
/// expectations then fail with the metrics as they are).
func metricsWhen(
  _ runtime: ProxyRuntime, _ name: String, _ label: String, reaches value: Double,
  seconds: Double = 10
) async throws -> String {
  let deadline = Date().addingTimeInterval(seconds)
  var metrics = await runtime.metricsText()
  while metric(metrics, name, label) < value, Date() < deadline {
    try await Task.sleep(for: .milliseconds(50))
    metrics = await runtime.metricsText()
  }
  return metrics
}

/// Set once by a thread, read by a task.
final class DoneFlag: Sendable {
  private let value = Mutex(false)
  func set() { value.withLock { $0 = true } }
  var isSet: Bool { value.withLock { $0 } }
}
