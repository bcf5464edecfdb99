import Foundation
import Logging
import Testing

@testable import CRDBridge

/// The watcher against `ReplayAPIServer`, which replays responses recorded in the Kubernetes API's
/// format (Fixtures/kubernetes). No API server runs here: this is the whole of the client's testing.
@Suite struct ResourceWatcherTests {
  /// A watcher running against a replay server, with what it yielded.
  final class Harness: Sendable {
    let server: ReplayAPIServer
    let client: KubernetesClient
    let task: Task<Void, Never>
    let seen = LockedValue<[ResourceChange]>([])

    init(
      _ script: [ReplayAPIServer.Response], resource: KubernetesResource = .virtualServices(),
      pageSize: Int = 500
    ) async throws {
      server = try await ReplayAPIServer(script: script)
      // Quiet: the retries the tests provoke would fill the test output with warnings.
      var logger = Logger(label: "l7mp.bridge.kubernetes.test")
      logger.logLevel = .critical
      client = try KubernetesClient(
        config: KubernetesConfig(server: server.url, credentials: .bearerToken("test-token")),
        logger: logger)
      var options = ResourceWatcher.Options()
      options.pageSize = pageSize
      options.watchTimeoutSeconds = 30...30
      options.backoff = RetryBackoff(initial: .milliseconds(10), maximum: .milliseconds(40))
      let watcher = ResourceWatcher(client: client, resource: resource, options: options)
      let seen = self.seen
      task = Task { await watcher.run { change in seen.withLock { $0.append(change) } } }
    }

    /// What the watcher yielded, once there are `count` changes or after `timeout`.
    func changes(_ count: Int, timeout: Duration = .seconds(60)) async -> [ResourceChange] {
      let deadline = ContinuousClock.now + timeout
      while ContinuousClock.now < deadline {
        let s = seen.withLock { $0 }
        if s.count >= count { return s }
        try? await Task.sleep(for: .milliseconds(10))
      }
      return seen.withLock { $0 }
    }

    /// Cancels the watcher and checks that it stops within a bound, even inside a held watch.
    func stop() async throws {
      task.cancel()
      let task = self.task
      let stopped = await withTaskGroup(of: Bool.self) { group in
        group.addTask {
          await task.value
          return true
        }
        group.addTask {
          try? await Task.sleep(for: .seconds(60))
          return false
        }
        let first = await group.next()!
        group.cancelAll()
        return first
      }
      #expect(stopped, "the watcher stops when its task is cancelled")
      try await client.shutdown()
      try await server.close()
    }
  }

  static let page1 = KubernetesFixtures.bytes("virtualservices-list-page1.json")
  static let page2 = KubernetesFixtures.bytes("virtualservices-list-page2.json")
  static let watchLines = KubernetesFixtures.lines("virtualservices-watch.jsonl")

  func names(_ change: ResourceChange) -> String {
    switch change {
    case .resynced(let all): "resynced[" + all.map(\.key).joined(separator: ",") + "]"
    case .added(let o): "added \(o.key)@\(o.resourceVersion)"
    case .modified(let o): "modified \(o.key)@\(o.resourceVersion)"
    case .deleted(let o): "deleted \(o.key)@\(o.resourceVersion)"
    }
  }

  @Test func listsInPagesThenWatchesWithBookmarks() async throws {
    // The watch stream is cut into chunks that split events mid-line, as TCP may.
    let stream = Array(Self.watchLines.joined())
    let chunks = stride(from: 0, to: stream.count, by: 97).map {
      Array(stream[$0..<min($0 + 97, stream.count)])
    }
    let h = try await Harness(
      [
        .full(status: 200, body: Self.page1), .full(status: 200, body: Self.page2),
        .stream(chunks: chunks, ending: .end),
      ], pageSize: 2)
    let changes = await h.changes(4)
    #expect(
      changes.map(names) == [
        "resynced[default/transcoder,default/worker,default/my-udp-service]",
        "added media/echo@48311", "modified default/worker@48320", "deleted media/echo@48402",
      ])
    // The server ended the watch: the next one resumes from the last bookmark, without a new list.
    let requests = await h.server.requests(atLeast: 4)
    try await h.stop()
    guard requests.count >= 4 else {
      Issue.record("expected >= 4 requests, got \(requests)")
      return
    }
    for r in requests {
      #expect(r.method == "GET")
      #expect(r.path == "/apis/l7mp.io/v1/virtualservices")
      #expect(r.authorization == "Bearer test-token")
    }
    #expect(requests[0].query == ["limit": "2"])
    #expect(
      requests[1].query == [
        "limit": "2",
        "continue":
          "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgzMDIsInN0YXJ0IjoiZGVmYXVsdC93b3JrZXJcdTAwMDAifQ",
      ])
    #expect(
      requests[2].query == [
        "watch": "1", "resourceVersion": "48302", "allowWatchBookmarks": "true",
        "timeoutSeconds": "30",
      ])
    #expect(requests[3].query["watch"] == "1")
    #expect(requests[3].query["resourceVersion"] == "48455")
  }

  @Test func objectsAreHandedOnAsTheirJSON() async throws {
    let h = try await Harness([
      .full(status: 200, body: Self.page2), .stream(chunks: [Self.watchLines[0]], ending: .hold),
    ])
    let changes = await h.changes(2)
    try await h.stop()
    guard changes.count == 2, case .resynced(let all) = changes[0],
      case .added(let echo) = changes[1]
    else {
      Issue.record("unexpected changes \(changes.map(names))")
      return
    }
    let listed = try #require(all.first)
    #expect(listed.uid == "9a4e7c33-2b1d-4f0e-8c6a-1d2e3f4a5b23")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(listed.json)) as? [String: Any])
    #expect(object["kind"] as? String == "VirtualService")
    let spec = try #require(object["spec"] as? [String: Any])
    #expect((spec["virtualHost"] as? [Any])?.count == 1)
    let added = try #require(
      try JSONSerialization.jsonObject(with: Data(echo.json)) as? [String: Any])
    #expect((added["metadata"] as? [String: Any])?["name"] as? String == "echo")
  }

  @Test func expiredWatchEventMakesItListAgain() async throws {
    let h = try await Harness([
      .full(status: 200, body: Self.page2),
      .stream(
        chunks: [Self.watchLines[0]] + KubernetesFixtures.lines("watch-expired-event.jsonl"),
        ending: .end),
      .full(status: 200, body: KubernetesFixtures.bytes("virtualservices-relist.json")),
    ])
    let changes = await h.changes(3)
    let requests = await h.server.requests(atLeast: 4)
    try await h.stop()
    #expect(
      changes.map(names) == [
        "resynced[default/my-udp-service]", "added media/echo@48311", "resynced[default/worker]",
      ])
    guard requests.count >= 4 else {
      Issue.record("expected >= 4 requests, got \(requests)")
      return
    }
    #expect(requests[1].query["resourceVersion"] == "48302")
    // The re-list is a fresh one: no resourceVersion, no continue token.
    #expect(requests[2].query == ["limit": "500"])
    #expect(requests[3].query["watch"] == "1")
    #expect(requests[3].query["resourceVersion"] == "49120")
  }

  @Test func goneStatusOnWatchMakesItListAgain() async throws {
    let h = try await Harness([
      .full(status: 200, body: Self.page2),
      .full(status: 410, body: KubernetesFixtures.bytes("status-410-gone.json")),
      .full(status: 200, body: KubernetesFixtures.bytes("virtualservices-relist.json")),
    ])
    let changes = await h.changes(2)
    let requests = await h.server.requests(atLeast: 4)
    try await h.stop()
    #expect(changes.map(names) == ["resynced[default/my-udp-service]", "resynced[default/worker]"])
    guard requests.count >= 4 else {
      Issue.record("expected >= 4 requests, got \(requests)")
      return
    }
    #expect(requests.map { $0.query["watch"] != nil } == [false, true, false, true])
    #expect(requests[1].query["resourceVersion"] == "48302")
    #expect(requests[3].query["resourceVersion"] == "49120")
  }

  /// Two whole events, then half of the third, then the connection is closed: the watch resumes
  /// from the last event it handed on, and no event is lost or seen twice. Which event that is
  /// depends on timing — AsyncHTTPClient drops body parts still buffered when the connection
  /// fails, so the second event may go with it (about one run in eight) — and the replay server
  /// answers like the API server, with every event after the version asked for.
  @Test func droppedConnectionResumesFromTheLastResourceVersion() async throws {
    let third = Self.watchLines[3]
    let h = try await Harness([
      .full(status: 200, body: Self.page2),
      .stream(
        chunks: [Self.watchLines[0], Self.watchLines[1], Array(third.prefix(third.count / 2))],
        ending: .drop),
      .resumed(
        chunksAfter: [
          "48311": [Self.watchLines[1], Self.watchLines[3]], "48320": [Self.watchLines[3]],
        ], ending: .hold),
    ])
    let changes = await h.changes(4)
    let requests = await h.server.requests(atLeast: 3)
    try await h.stop()
    #expect(
      changes.map(names) == [
        "resynced[default/my-udp-service]", "added media/echo@48311",
        "modified default/worker@48320", "deleted media/echo@48402",
      ])
    #expect(requests.map { $0.query["watch"] != nil } == [false, true, true])
    guard requests.count == 3 else {
      Issue.record("expected == 3 requests, got \(requests)")
      return
    }
    #expect(["48311", "48320"].contains(requests[2].query["resourceVersion"] ?? ""))
  }

  @Test func serverErrorsAreRetriedWithBackoff() async throws {
    let status500 = KubernetesFixtures.bytes("status-500.json")
    let h = try await Harness([
      .full(status: 500, body: status500), .full(status: 500, body: status500),
      .full(status: 200, body: Self.page2),
      .full(status: 500, body: status500),
      .stream(chunks: [Self.watchLines[1]], ending: .hold),
    ])
    let changes = await h.changes(2)
    let requests = await h.server.requests(atLeast: 5)
    try await h.stop()
    #expect(
      changes.map(names) == ["resynced[default/my-udp-service]", "modified default/worker@48320"])
    #expect(requests.map { $0.query["watch"] != nil } == [false, false, false, true, true])
    guard requests.count == 5 else {
      Issue.record("expected == 5 requests, got \(requests)")
      return
    }
    // A failed watch is retried from the same resourceVersion: no list in between.
    #expect(requests[3].query["resourceVersion"] == "48302")
    #expect(requests[4].query["resourceVersion"] == "48302")
  }

  @Test func otherWatchErrorEventsRetryTheWatchWithoutListing() async throws {
    let h = try await Harness([
      .full(status: 200, body: Self.page2),
      .stream(
        chunks: KubernetesFixtures.lines("watch-internal-error-event.jsonl"), ending: .end),
      .stream(chunks: [Self.watchLines[1]], ending: .hold),
    ])
    let changes = await h.changes(2)
    let requests = await h.server.requests(atLeast: 3)
    try await h.stop()
    #expect(
      changes.map(names) == ["resynced[default/my-udp-service]", "modified default/worker@48320"])
    #expect(requests.map { $0.query["watch"] != nil } == [false, true, true])
    #expect(requests.dropFirst().map { $0.query["resourceVersion"] } == ["48302", "48302"])
  }

  @Test func forbiddenListYieldsNothingAndKeepsTrying() async throws {
    let forbidden = KubernetesFixtures.bytes("status-403.json")
    let h = try await Harness([
      .full(status: 403, body: forbidden), .full(status: 403, body: forbidden),
      .full(status: 403, body: forbidden),
    ])
    let requests = await h.server.requests(atLeast: 3)
    let changes = await h.changes(0)
    try await h.stop()
    #expect(requests.count >= 3)
    #expect(changes.isEmpty)
  }

  @Test func coreGroupResourceInOneNamespace() async throws {
    let h = try await Harness(
      [
        .full(status: 200, body: KubernetesFixtures.bytes("services-list.json")),
        .stream(chunks: KubernetesFixtures.lines("services-watch.jsonl"), ending: .hold),
      ], resource: .services(namespace: "default"))
    let changes = await h.changes(2)
    let requests = await h.server.requests(atLeast: 2)
    try await h.stop()
    #expect(changes.map(names) == ["resynced[default/gateway]", "modified default/gateway@51044"])
    #expect(
      requests.map(\.path) == [
        "/api/v1/namespaces/default/services", "/api/v1/namespaces/default/services",
      ])
    #expect(requests.last?.query["resourceVersion"] == "51007")
  }

  @Test func changesStreamStopsTheWatcherWhenItsConsumerIsCancelled() async throws {
    let server = try await ReplayAPIServer(script: [.full(status: 200, body: Self.page2)])
    let client = try KubernetesClient(config: KubernetesConfig(server: server.url))
    let watcher = ResourceWatcher(client: client, resource: .virtualServices())
    let seen = LockedValue<[ResourceChange]>([])
    let consumer = Task {
      for await change in watcher.changes() { seen.withLock { $0.append(change) } }
    }
    // The list arrives, then the watch is held open; cancelling the consumer must end the watch.
    let requests = await server.requests(atLeast: 2)
    let deadline = ContinuousClock.now + .seconds(60)
    while seen.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(10))
    }
    consumer.cancel()
    #expect(seen.withLock { $0 }.map(names) == ["resynced[default/my-udp-service]"])
    #expect(requests.map { $0.query["watch"] != nil } == [false, true])
    #expect(requests.allSatisfy { $0.authorization == nil })
    // The held watch connection is closed by the client (the list's may be idle in the pool).
    #expect(await server.disconnects(atLeast: 1) >= 1)
    try await client.shutdown()
    try await server.close()
  }
}
