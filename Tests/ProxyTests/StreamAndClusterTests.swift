import Config
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Proxy

/// Stream listeners, WebSocket → UDP, egress stages, load balancing, disconnects, orphans.
@Suite(.serialized) struct StreamAndClusterTests {
  static let group = MultiThreadedEventLoopGroup.singleton

  static func udpEcho() async throws -> (any Channel, Int) {
    let c = try await EchoServer.start(.udp(host: "127.0.0.1", port: 0), group: group)
    return (c, c.localAddress!.port!)
  }

  /// A runtime with a TCP listener (`tcp`) on a free port running rulelist `t` of `rules(port)`,
  /// the Echo cluster, and a client that has sent "one" and got it back.
  static func tcpProxyWithClient(
    _ rules: (Int) -> String
  ) async throws -> (ProxyRuntime, TCPTestClient) {
    let runtime = ProxyRuntime()
    let port = freePort(udp: false)
    _ = try await runtime.addRulelist(RulelistConfig(name: "r", source: rules(port)))
    try await runtime.addCluster(ProxyRuntimeTests.echo)
    try await runtime.addListener(
      ListenerConfig(
        name: "tcp", spec: ListenerSpec(protocol: .tcp, address: "127.0.0.1", port: port),
        rules: "t"))
    let client = try TCPTestClient(port: port)
    client.send(Array("one".utf8))
    #expect(client.receive().map { String(decoding: $0, as: UTF8.self) } == "one")
    return (runtime, client)
  }

  @Test func tcpListenerEvaluatedOnceAndCarriesBytes() async throws {
    let (runtime, client) = try await Self.tcpProxyWithClient { port in
      "rulelist t for TCP { rule in when TCP.dst_port == \(port) { route to echo } }"
    }
    defer { Task { await runtime.shutdown() } }
    client.send(Array("two".utf8))
    #expect(client.receive().map { String(decoding: $0, as: UTF8.self) } == "two")
    let metrics = await runtime.metricsText()
    // Rules ran once, for the connection.
    #expect(metric(metrics, "l7mp_rule_matches_total", "rule=\"in\"") == 1)
    #expect(metric(metrics, "l7mp_listener_packets_total", "listener=\"tcp\"") == 2)
  }

  @Test func unixListenerToUDPUpstream() async throws {
    let (upstream, upstreamPort) = try await Self.udpEcho()
    defer { upstream.close(promise: nil) }
    let runtime = ProxyRuntime()
    defer { Task { await runtime.shutdown() } }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "l7mp-l-\(UUID().uuidString.prefix(8)).sock"
    ).path
    _ = try await runtime.addRulelist(
      RulelistConfig(
        name: "r",
        source: """
          rulelist u for UnixDomainSocket {
            rule mine when UNIX.filename ends ".sock" { route to far }
          }
          """))
    try await runtime.addCluster(ProxyRuntimeTests.upstream("far", .udp, port: upstreamPort))
    try await runtime.addListener(
      ListenerConfig(
        name: "uds", spec: ListenerSpec(protocol: .unixDomainSocket, filename: path), rules: "u"))
    let client = try UnixTestClient(path: path)
    client.send("over unix")
    #expect(client.receiveText() == "over unix")
    #expect(await runtime.sessions().first?.destination.hasPrefix("far/127.0.0.1") == true)
  }

  @Test func webSocketListenerToUDPUpstream() async throws {
    let (upstream, upstreamPort) = try await Self.udpEcho()
    defer { upstream.close(promise: nil) }
    let runtime = ProxyRuntime()
    defer { Task { await runtime.shutdown() } }
    _ = try await runtime.addRulelist(
      RulelistConfig(name: "r", source: "rulelist w for WebSocket { rule all { route to far } }"))
    try await runtime.addCluster(ProxyRuntimeTests.upstream("far", .udp, port: upstreamPort))
    let port = freePort(udp: false)
    try await runtime.addListener(
      ListenerConfig(
        name: "ws", spec: ListenerSpec(protocol: .webSocket, address: "127.0.0.1", port: port),
        rules: "w"))
    let client = try TCPTestClient(port: port)
    #expect(client.upgrade(path: "/").hasPrefix("HTTP/1.1 101"))
    client.sendFrame(Array("ws to udp".utf8))
    #expect(client.receiveFrame()?.payload == Array("ws to udp".utf8))
  }

  @Test func repliesGoThroughEgressStages() async throws {
    let (upstream, upstreamPort) = try await Self.udpEcho()
    defer { upstream.close(promise: nil) }
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      "rulelist l for UDP { rule all { route to echo return via out } }",
      clusters: [
        ProxyRuntimeTests.echo, ProxyRuntimeTests.upstream("out", .udp, port: upstreamPort),
      ])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("round trip", to: port)
    #expect(client.receiveText() == "round trip")
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_cluster_packets_received_total", "cluster=\"out\"") == 1)
    #expect(metric(metrics, "l7mp_cluster_packets_received_total", "cluster=\"echo\"") == 1)
  }

  @Test func roundRobinSpreadsSessions() async throws {
    let (a, aPort) = try await Self.udpEcho()
    let (b, bPort) = try await Self.udpEcho()
    defer {
      a.close(promise: nil)
      b.close(promise: nil)
    }
    let cluster = ClusterConfig(
      name: "pool", spec: ClusterSpec(protocol: .udp),
      endpoints: [
        EndpointConfig(name: "a", spec: EndpointSpec(address: "127.0.0.1", port: aPort)),
        EndpointConfig(name: "b", spec: EndpointSpec(address: "127.0.0.1", port: bPort)),
      ],
      loadbalancer: LoadBalancerConfig(policy: .roundRobin))
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      "rulelist l for UDP { rule all { route to pool } }", clusters: [cluster])
    defer { Task { await runtime.shutdown() } }
    let clients = try (0..<4).map { _ in try UDPTestClient() }
    for (k, c) in clients.enumerated() {
      c.send("c\(k)", to: port)
      #expect(c.receiveText() == "c\(k)")
    }
    let destinations = await runtime.sessions().map(\.destination)
    #expect(destinations.filter { $0 == "pool/a" }.count == 2, "\(destinations)")
    #expect(destinations.filter { $0 == "pool/b" }.count == 2, "\(destinations)")
  }

  @Test func consistentHashKeepsAKeyOnOneEndpoint() throws {
    let endpoints = (1...5).map {
      EndpointConfig(name: "e\($0)", spec: EndpointSpec(address: "10.0.0.\($0)", port: 1))
    }
    let config = ClusterConfig(
      name: "h", spec: ClusterSpec(protocol: .udp), endpoints: endpoints,
      loadbalancer: LoadBalancerConfig(policy: .consistentHash, key: "IP/src_addr"))
    let cluster = ClusterRuntime(config, counters: ProxyMetrics().cluster("h"))
    func pick(_ src: String, _ c: ClusterRuntime) -> String? {
      var m = SessionMetadata()
      m.fields["IP.src_addr"] = src
      return c.pickEndpoint(m)?.name
    }
    let sources = (1...200).map { "192.168.\($0 / 100).\($0 % 100)" }
    let first = sources.map { pick($0, cluster) }
    #expect(sources.map { pick($0, cluster) } == first)
    #expect(Set(first.compactMap { $0 }).count == 5)
    // Removing one endpoint moves only the keys that were on it.
    var smaller = config
    smaller.endpoints.removeAll { $0.name == "e3" }
    let reduced = ClusterRuntime(smaller, counters: ProxyMetrics().cluster("h"))
    for (s, before) in zip(sources, first) where before != "e3" {
      #expect(pick(s, reduced) == before)
    }
  }

  @Test func upstreamThatHangsUpIsRetriedThenFails() async throws {
    // A TCP server that closes every connection as soon as it opens.
    let hangup = try await ServerBootstrap(group: Self.group)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(CloseOnActive())
        }
      }
      .bind(host: "127.0.0.1", port: 0).get()
    defer { hangup.close(promise: nil) }
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      """
      rulelist l for UDP {
        rule all { route to flaky with retry_on = "disconnect", retries = 2 }
      }
      """,
      clusters: [ProxyRuntimeTests.upstream("flaky", .tcp, port: hangup.localAddress!.port!)])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient(timeout: 0.3)
    client.send("hello", to: port)
    #expect(client.receive() == nil)
    let metrics = try await metricsWhen(
      runtime, "l7mp_session_failures_total", "listener=\"udp\"", reaches: 1)
    #expect(metric(metrics, "l7mp_cluster_disconnects_total", "cluster=\"flaky\"") == 3)
    #expect(metric(metrics, "l7mp_session_failures_total", "listener=\"udp\"") == 1)
  }

  @Test func putListenerWithTheSameSocketSwitchesRulelists() async throws {
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      """
      rulelist l for UDP { rule all { route to echo } }
      rulelist quiet for UDP { rule none { drop } }
      """, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient(timeout: 0.3)
    client.send("before", to: port)
    #expect(client.receiveText() == "before")
    var config = try #require(await runtime.listeners().first)
    config.rules = "quiet"
    #expect(try await runtime.putListener(config))
    client.send("after", to: port)
    #expect(client.receive() == nil)
    #expect(await runtime.listeners().first?.rules == "quiet")
    // A rulelist of another protocol is refused.
    _ = try await runtime.addRulelist(
      RulelistConfig(name: "ws", source: "rulelist w for WebSocket { rule a { drop } }"))
    config.rules = "w"
    await #expect(throws: ControlError.self) { try await runtime.putListener(config) }
  }

  @Test func removedListenerTakesOrphanSessionsAlong() async throws {
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      """
      rulelist l for UDP {
        rule orphan when payload starts "o" { route to echo with remove_orphan_sessions = true }
        rule keep { route to echo }
      }
      """, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("o", to: port)
    #expect(client.receiveText() == "o")
    client.send("k", to: port)
    #expect(client.receiveText() == "k")
    #expect(await runtime.sessions().count == 2)
    try await runtime.deleteListener(named: "udp")
    let deadline = Date().addingTimeInterval(5)
    while await runtime.sessions().count > 1, Date() < deadline {
      try await Task.sleep(for: .milliseconds(20))
    }
    let left = await runtime.sessions()
    #expect(left.map(\.rule) == ["l/keep"], "\(left)")
    #expect(await runtime.listeners().isEmpty)
  }

  /// A session that outlives its removed listener still leaves the session table (and the
  /// active-sessions gauge) when it idles out: its flow outlives the listener's table of flows.
  @Test func sessionOutlivingItsListenerIsForgottenWhenIdle() async throws {
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      "rulelist l for UDP { rule keep { route to echo } }", clusters: [ProxyRuntimeTests.echo],
      idleTimeout: 0.3)
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("k", to: port)
    #expect(client.receiveText() == "k")
    try await runtime.deleteListener(named: "udp")
    #expect(await runtime.sessions().count == 1, "not an orphan: it stays until idle")
    let deadline = Date().addingTimeInterval(5)
    while await !runtime.sessions().isEmpty, Date() < deadline {
      try await Task.sleep(for: .milliseconds(20))
    }
    #expect(await runtime.sessions().isEmpty)
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_sessions_active", "listener=\"udp\"") == 0)
  }

  /// A TCP listener's orphan sessions end with it too (the connection is closed).
  @Test func removedStreamListenerTakesOrphanSessionsAlong() async throws {
    let (runtime, client) = try await Self.tcpProxyWithClient { _ in
      "rulelist t for TCP { rule in { route to echo with remove_orphan_sessions = true } }"
    }
    defer { Task { await runtime.shutdown() } }
    #expect(await runtime.sessions().count == 1)
    try await runtime.deleteListener(named: "tcp")
    #expect(await runtime.sessions().isEmpty)
    var byte: UInt8 = 0
    let n = recv(client.fd, &byte, 1, 0)  // 0: end of stream (a timeout would be -1)
    #expect(n == 0, "the client's connection is closed (recv: \(n))")
  }

  /// Removing a cluster ends the orphan sessions routed through it; others stay.
  @Test func removedClusterTakesOrphanSessionsAlong() async throws {
    let (upstream, upstreamPort) = try await Self.udpEcho()
    defer { upstream.close(promise: nil) }
    let (runtime, port) = try await ProxyRuntimeTests.udpProxy(
      """
      rulelist l for UDP {
        rule far when payload starts "f" { route to far with remove_orphan_sessions = true }
        rule keep { route to echo with remove_orphan_sessions = true }
      }
      """,
      clusters: [
        ProxyRuntimeTests.echo, ProxyRuntimeTests.upstream("far", .udp, port: upstreamPort),
      ])
    defer { Task { await runtime.shutdown() } }
    let client = try UDPTestClient()
    client.send("f", to: port)
    #expect(client.receiveText() == "f")
    client.send("k", to: port)
    #expect(client.receiveText() == "k")
    #expect(await runtime.sessions().count == 2)
    try await runtime.deleteCluster(named: "far")
    #expect(await runtime.sessions().map(\.rule) == ["l/keep"])
  }
}

final class CloseOnActive: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  func channelActive(context: ChannelHandlerContext) { context.close(promise: nil) }
}
