import Config
import ControlClient
import Foundation
import NIOPosix
import Proxy
import Testing

/// The control API client against the real API (on a loopback socket, over `FakeProxyControl`).
@Suite struct ControlClientTests {
  static let listener = ListenerConfig(
    name: "udp-in", spec: ListenerSpec(protocol: .udp, port: 9001), rules: "my-udp-endpoint")
  static let cluster = ClusterConfig(
    name: "worker", spec: ClusterSpec(protocol: .udp, port: 9999),
    endpoints: [EndpointConfig(spec: EndpointSpec(address: "127.0.0.3"))],
    loadbalancer: LoadBalancerConfig(policy: .consistentHash, key: "IP/src_addr"))

  @Test func listGetAddPutDeleteOfEveryKind() async throws {
    let fake = FakeProxyControl()
    try await withControlAPIServer(fake) { port in
      let client = ControlClient(port: port, timeout: .seconds(60))
      #expect(try await client.list(ListenerConfig.self).isEmpty)

      let added = try await client.add(Self.listener)
      #expect(added.status == 201)
      #expect(added.message == "listener 'udp-in' added")
      #expect(try await client.list(ListenerConfig.self) == [Self.listener])
      #expect(try await client.get(ListenerConfig.self, named: "udp-in") == Self.listener)
      #expect(try await client.get(ListenerConfig.self, named: "nope") == nil)

      var moved = Self.listener
      moved.spec.port = 9002
      #expect(try await client.put(moved).status == 200)
      #expect(try await client.get(ListenerConfig.self, named: "udp-in")?.spec.port == 9002)

      #expect(try await client.put(Self.cluster).status == 201)
      #expect(try await client.get(ClusterConfig.self, named: "worker") == Self.cluster)

      let rules = RulelistConfig(name: "gateway", source: Bodies.rulesWithWarnings)
      let loaded = try await client.add(rules)
      #expect(loaded.warnings?.count == 2)
      #expect(loaded.warnings?.first?.line == 3)
      #expect(try await client.list(RulelistConfig.self) == [rules])

      try await client.delete(ClusterConfig.self, named: "worker")
      #expect(try await client.list(ClusterConfig.self).isEmpty)
      #expect(
        await fake.calls == [
          "addListener udp-in", "putListener udp-in", "putCluster worker", "addRulelist gateway",
          "deleteCluster worker",
        ])
    }
  }

  @Test func refusalsCarryTheStatusMessageAndDiagnostics() async throws {
    let fake = FakeProxyControl()
    try await withControlAPIServer(fake) { port in
      let client = ControlClient(port: port, timeout: .seconds(60))
      try await client.add(Self.listener)
      do {
        try await client.add(Self.listener)
        Issue.record("a second add of the same name succeeded")
      } catch let error as ControlClientError {
        #expect(
          error == .refused(status: 409, message: "listener 'udp-in' exists", diagnostics: []))
      }
      do {
        try await client.delete(ClusterConfig.self, named: "a/b c")
        Issue.record("deleting a missing cluster succeeded")
      } catch let error as ControlClientError {
        #expect(error.status == 404)
        #expect(error.description.contains("no cluster named 'a/b c'"))
      }
      do {
        try await client.put(RulelistConfig(name: "bad", source: Bodies.rulesWithError))
        Issue.record("rule source with errors was accepted")
      } catch let error as ControlClientError {
        guard case .refused(400, _, let diagnostics) = error else {
          Issue.record("unexpected \(error)")
          return
        }
        #expect(diagnostics.first?.severity == "error")
        #expect(diagnostics.first?.line == 3)
        #expect(error.description.contains("bad:3:"))
      }
      #expect(try await client.list(RulelistConfig.self).isEmpty)
    }
  }

  @Test func tokens() async throws {
    let fake = FakeProxyControl()
    let options = ControlAPIOptions(address: "0.0.0.0", port: 0, token: "t0k")
    try await withControlAPIServer(fake, options: options) { port in
      do {
        _ = try await ControlClient(port: port, timeout: .seconds(60)).list(ListenerConfig.self)
        Issue.record("a request without the token succeeded")
      } catch let error as ControlClientError {
        #expect(error.status == 401)
      }
      let client = ControlClient(port: port, token: "t0k", timeout: .seconds(60))
      #expect(try await client.add(Self.cluster).status == 201)
    }
  }

  @Test func noServerIsATransportError() async throws {
    // A port that was just free: bind port 0, note it, close it.
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(channel.localAddress?.port)
    try await channel.close()
    let error = await failure { () async throws(ControlClientError) -> [ListenerConfig] in
      try await ControlClient(port: port, timeout: .seconds(10)).list(ListenerConfig.self)
    }
    if case .transport(let message) = error {
      #expect(message.contains("GET http://127.0.0.1:\(port)/api/v1/listeners"))
    } else {
      Issue.record("expected a transport error, got \(String(describing: error))")
    }
  }

  @Test func aServerThatNeverAnswersTimesOut() async throws {
    // Accepts connections and reads nothing: the request is written, no answer ever comes.
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(server.localAddress?.port)
    let error = await failure { () async throws(ControlClientError) -> [ClusterConfig] in
      try await ControlClient(port: port, timeout: .milliseconds(300)).list(ClusterConfig.self)
    }
    try await server.close()
    if case .timeout(let message) = error {
      #expect(message.contains("GET http://127.0.0.1:\(port)/api/v1/clusters: no answer within"))
    } else {
      Issue.record("expected a timeout, got \(String(describing: error))")
    }
  }
}

/// The error `body` fails with, or nil when it succeeds.
func failure<T>(_ body: () async throws(ControlClientError) -> T) async -> ControlClientError? {
  do {
    _ = try await body()
    return nil
  } catch {
    return error
  }
}
