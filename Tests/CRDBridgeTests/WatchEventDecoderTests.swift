import Testing

@testable import CRDBridge

@Suite struct WatchEventDecoderTests {
  static let recording = Array(KubernetesFixtures.lines("virtualservices-watch.jsonl").joined())

  func summary(_ e: WatchEvent) -> String {
    switch e {
    case .added(let o): "ADDED \(o.key)@\(o.resourceVersion)"
    case .modified(let o): "MODIFIED \(o.key)@\(o.resourceVersion)"
    case .deleted(let o): "DELETED \(o.key)@\(o.resourceVersion)"
    case .bookmark(let rv): "BOOKMARK @\(rv)"
    case .error(let s): "ERROR \(s.code) \(s.reason)"
    }
  }

  static let expected = [
    "ADDED media/echo@48311", "MODIFIED default/worker@48320", "BOOKMARK @48377",
    "DELETED media/echo@48402", "BOOKMARK @48455",
  ]

  @Test(arguments: [1, 2, 7, 64, 1000, 1 << 20])
  func eventsSurviveAnyChunking(chunkSize: Int) throws {
    var decoder = WatchEventDecoder()
    var events: [WatchEvent] = []
    var i = 0
    while i < Self.recording.count {
      let end = min(i + chunkSize, Self.recording.count)
      events += try decoder.decode(Self.recording[i..<end])
      i = end
    }
    #expect(events.map(summary) == Self.expected)
    #expect(decoder.unfinishedBytes == 0)
  }

  @Test func aCutOffEventIsReportedAsUnfinished() throws {
    var decoder = WatchEventDecoder()
    let events = try decoder.decode(Self.recording.dropLast(10))
    #expect(events.map(summary) == Array(Self.expected.dropLast()))
    #expect(decoder.unfinishedBytes > 0)
  }

  @Test func expiredErrorEventIsGone() throws {
    var decoder = WatchEventDecoder()
    let events = try decoder.decode(KubernetesFixtures.bytes("watch-expired-event.jsonl"))
    #expect(events.map(summary) == ["ERROR 410 Expired"])
    guard case .error(let status) = events.first else { return }
    #expect(KubernetesAPIError.watchError(status).isGone)
    #expect(status.message == "too old resource version: 48302 (49120)")
    #expect(!KubernetesAPIError.watchError(APIStatus(code: 500, reason: "", message: "")).isGone)
  }

  @Test func malformedEventsAreErrors() {
    func error(_ line: String) -> String {
      var decoder = WatchEventDecoder(maximumLineLength: 256)
      do {
        _ = try decoder.decode(Array((line + "\n").utf8))
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    #expect(
      error("{\"type\":\"ADDED\"")
        == "malformed response: a watch event that is not JSON: {\"type\":\"ADDED\"")
    #expect(error(#"{"object":{}}"#).hasPrefix("malformed response: a watch event without a type"))
    #expect(
      error(#"{"type":"ADDED"}"#) == "malformed response: a ADDED watch event without an object")
    #expect(
      error(#"{"type":"ADDED","object":{"metadata":{}}}"#)
        == "malformed response: an object without metadata.name")
    #expect(
      error(#"{"type":"BOOKMARK","object":{"metadata":{}}}"#)
        == "malformed response: a BOOKMARK event without metadata.resourceVersion")
    #expect(
      error(#"{"type":"ERROR","object":{"kind":"Pod"}}"#).hasPrefix(
        "malformed response: an ERROR event whose object is not a Status"))
    #expect(
      error(#"{"type":"RESYNC","object":{}}"#)
        == "malformed response: a watch event of unknown type 'RESYNC'")
    #expect(
      error(String(repeating: "x", count: 300))
        == "malformed response: a watch event longer than 256 bytes")
    #expect(error("  \r") == "no error")
  }
}

@Suite struct RetryBackoffTests {
  @Test func doublesUpToTheCap() {
    let b = RetryBackoff()
    #expect(
      (1...8).map { b.base(failures: $0) } == [
        .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
        .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30),
      ])
    #expect(b.base(failures: 0) == .zero)
    #expect(b.base(failures: 10_000) == .seconds(30))
  }

  @Test func jitterStaysBetweenHalfAndAll() {
    let b = RetryBackoff(initial: .seconds(1), maximum: .seconds(8))
    #expect(b.delay(failures: 3, unit: 0) == .seconds(2))
    #expect(b.delay(failures: 3, unit: 0.5) == .seconds(3))
    #expect(b.delay(failures: 9, unit: 1) == .seconds(8))
    for _ in 0..<100 {
      let d = b.delay(failures: 2)
      #expect(d >= .seconds(1) && d <= .seconds(2))
    }
  }
}

@Suite struct KubernetesResourceTests {
  @Test func pathsAsTheAPINamesThem() {
    #expect(KubernetesResource.virtualServices().path == "/apis/l7mp.io/v1/virtualservices")
    #expect(
      KubernetesResource.routes(namespace: "l7mp").path == "/apis/l7mp.io/v1/namespaces/l7mp/routes"
    )
    #expect(KubernetesResource.services().path == "/api/v1/services")
    #expect(KubernetesResource.pods(namespace: "default").path == "/api/v1/namespaces/default/pods")
    #expect(KubernetesResource.endpointSlices().path == "/apis/discovery.k8s.io/v1/endpointslices")
    #expect(
      "\(KubernetesResource.virtualServices())" == "virtualservices.l7mp.io in all namespaces")
  }

  @Test func queryValuesArePercentEncoded() {
    #expect(
      KubernetesClient.encode([("continue", "eyJ2Ij+/=="), ("limit", "2")])
        == "?continue=eyJ2Ij%2B%2F%3D%3D&limit=2")
  }

  @Test func cacheAppliesChanges() throws {
    func object(_ name: String, _ rv: String) throws -> KubernetesObject {
      try KubernetesObject(
        json: Array(
          #"{"metadata":{"name":"\#(name)","namespace":"default","resourceVersion":"\#(rv)"}}"#.utf8
        ))
    }
    var cache = ResourceCache()
    cache.apply(.resynced([try object("b", "1"), try object("a", "2")]))
    cache.apply(.added(try object("c", "3")))
    cache.apply(.modified(try object("a", "4")))
    cache.apply(.deleted(try object("b", "5")))
    #expect(
      cache.sorted.map { "\($0.key)@\($0.resourceVersion)" } == ["default/a@4", "default/c@3"])
    cache.apply(.resynced([try object("z", "9")]))
    #expect(cache.sorted.map(\.key) == ["default/z"])
  }
}
