import Config
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Proxy

/// The WebSocket listener over real loopback connections: upgrade metadata in the rules, every
/// message evaluated, bad upgrades and frames answered and counted.
@Suite(.serialized) struct WebSocketListenerTests {
  static func wsProxy(_ rules: String, clusters: [ClusterConfig]) async throws -> (
    ProxyRuntime, Int
  ) {
    let runtime = ProxyRuntime()
    _ = try await runtime.addRulelist(RulelistConfig(name: "rules", source: rules))
    for c in clusters { try await runtime.addCluster(c) }
    let port = freePort(udp: false)
    try await runtime.addListener(
      ListenerConfig(
        name: "ws", spec: ListenerSpec(protocol: .webSocket, address: "127.0.0.1", port: port),
        rules: "w"))
    return (runtime, port)
  }

  static let rules = """
    rulelist w for WebSocket {
      rule api when HTTP.url.path == "/api" and HTTP.headers.user == "alice" { route to echo }
      rule drop-me when payload starts "x" { drop }
    }
    """

  @Test func upgradeMetadataAndEveryMessageEvaluated() async throws {
    let (runtime, port) = try await Self.wsProxy(Self.rules, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try TCPTestClient(port: port)
    let head = client.upgrade(path: "/api", headers: ["User": "alice"])
    #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
    client.sendFrame(Array("hello".utf8), opcode: 0x1)
    let reply = try #require(client.receiveFrame())
    #expect(reply.opcode == 0x1 && reply.payload == Array("hello".utf8))
    client.sendFrame(Array("again".utf8))
    #expect(client.receiveFrame()?.payload == Array("again".utf8))
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_packets_total", "listener=\"ws\"") == 2)
    #expect(metric(metrics, "l7mp_rule_matches_total", "rule=\"api\"") == 2)
  }

  @Test func otherHeadersDoNotMatch() async throws {
    let (runtime, port) = try await Self.wsProxy(Self.rules, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try TCPTestClient(port: port, timeout: 0.5)
    #expect(client.upgrade(path: "/api", headers: ["User": "bob"]).hasPrefix("HTTP/1.1 101"))
    client.sendFrame(Array("hello".utf8))
    #expect(client.receiveFrame() == nil)
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_drops_total", "reason=\"rules\"") == 1)
  }

  @Test func plainRequestGets426AndGarbageIsCounted() async throws {
    let (runtime, port) = try await Self.wsProxy(Self.rules, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    let plain = try TCPTestClient(port: port)
    plain.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    #expect(plain.receive(until: "\r\n\r\n").hasPrefix("HTTP/1.1 426"))
    let garbage = try TCPTestClient(port: port)
    garbage.send(Array("\u{1}\u{2} NOT HTTP AT ALL\r\n\r\n".utf8))
    #expect(garbage.receive(until: "\r\n\r\n").hasPrefix("HTTP/1.1 400"))
    // An unmasked client frame breaks the protocol: the connection is closed, the proxy serves on.
    let bad = try TCPTestClient(port: port)
    #expect(bad.upgrade(path: "/api", headers: ["User": "alice"]).hasPrefix("HTTP/1.1 101"))
    bad.send([0x82, 0x02, 0x41, 0x42])
    var closed = false
    for _ in 0..<10 where !closed {
      if let f = bad.receiveFrame() { closed = f.opcode == 0x8 } else { closed = true }
    }
    #expect(closed)
    let good = try TCPTestClient(port: port)
    #expect(good.upgrade(path: "/api", headers: ["User": "alice"]).hasPrefix("HTTP/1.1 101"))
    good.sendFrame(Array("still".utf8))
    #expect(good.receiveFrame()?.payload == Array("still".utf8))
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_drops_total", "reason=\"malformed\"") >= 1)
  }

  @Test func upgradeWithoutAKeyIsRefused() async throws {
    let (runtime, port) = try await Self.wsProxy(Self.rules, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    let client = try TCPTestClient(port: port)
    client.send(
      Array(
        "GET /api HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8))
    let head = client.receive(until: "\r\n\r\n")
    #expect(head.hasPrefix("HTTP/1.1 4"), "\(head)")
    #expect(await runtime.sessions().isEmpty)
  }

  @Test func halfOpenConnectionEndsItsSession() async throws {
    let (runtime, port) = try await Self.wsProxy(Self.rules, clusters: [ProxyRuntimeTests.echo])
    defer { Task { await runtime.shutdown() } }
    do {
      let client = try TCPTestClient(port: port)
      #expect(client.upgrade(path: "/api", headers: ["User": "alice"]).hasPrefix("HTTP/1.1 101"))
      client.sendFrame(Array("hi".utf8))
      #expect(client.receiveFrame()?.payload == Array("hi".utf8))
      #expect(await runtime.sessions().count == 1)
      shutdown(client.fd, Int32(SHUT_WR))
    }
    let deadline = Date().addingTimeInterval(5)
    while await !runtime.sessions().isEmpty, Date() < deadline {
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(await runtime.sessions().isEmpty)
  }
}
