import Foundation
import Logging
import Proxy
import Testing

@testable import CRDBridge

@Suite struct KubernetesBridgeTests {
  /// Core-group list items come without `apiVersion` and `kind`; the bridge adds them so that the
  /// manifest reader knows what each object is, and leaves objects that have them alone.
  @Test func listItemsGetTheirKind() throws {
    let list = try #require(
      try JSONSerialization.jsonObject(with: Data(KubernetesFixtures.bytes("services-list.json")))
        as? [String: Any])
    let items = try #require(list["items"] as? [[String: Any]])
    #expect(items.allSatisfy { $0["kind"] == nil })
    let files = try items.map { item in
      let json = Array(try JSONSerialization.data(withJSONObject: item))
      return (name: "kubernetes:Service", bytes: KubernetesBridge.withKind(json, "v1", "Service"))
    }
    for f in files {
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(f.bytes)) as? [String: Any])
      #expect(object["kind"] as? String == "Service")
      #expect(object["apiVersion"] as? String == "v1")
    }
    // Read as manifests: Services, with no complaint about what they are.
    let t = Bridge.translate(files)
    #expect(!t.diagnostics.all.contains { $0.message.contains("kind") }, "\(t.diagnostics.all)")

    let custom = Array(#"{"apiVersion": "l7mp.io/v2", "kind": "Other", "metadata": {}}"#.utf8)
    let kept = try #require(
      try JSONSerialization.jsonObject(
        with: Data(KubernetesBridge.withKind(custom, "l7mp.io/v1", "VirtualService")))
        as? [String: Any])
    #expect(kept["kind"] as? String == "Other" && kept["apiVersion"] as? String == "l7mp.io/v2")
  }

  /// The objects of the recorded VirtualService list translate as manifests do.
  @Test func recordedVirtualServicesTranslate() throws {
    let list = try #require(
      try JSONSerialization.jsonObject(
        with: Data(KubernetesFixtures.bytes("virtualservices-list-page1.json"))) as? [String: Any])
    let items = try #require(list["items"] as? [[String: Any]])
    let files = try items.map {
      (
        name: "kubernetes:VirtualService",
        bytes: KubernetesBridge.withKind(
          Array(try JSONSerialization.data(withJSONObject: $0)), "l7mp.io/v1", "VirtualService")
      )
    }
    let t = Bridge.translate(files)
    #expect(!t.listeners.isEmpty)
    #expect(t.diagnostics.errorCount == 0, "\(t.diagnostics.all)")
  }
}

/// The `--kubernetes` passes end to end, in process: objects as the watches deliver them configure
/// a real proxy (`ProxyRuntime` behind its control API on 127.0.0.1), and a deleted VirtualService
/// is removed from it.
@Suite struct KubernetesBridgePassTests {
  static func object(_ json: String) throws -> KubernetesObject {
    try KubernetesObject(json: Array(json.utf8))
  }

  @Test func watchedObjectsConfigureAProxy() async throws {
    var quiet = Logger(label: "test")
    quiet.logLevel = .critical
    let runtime = ProxyRuntime()
    let apiPort = LockedValue<Int?>(nil)
    let api = ControlAPI.application(
      control: runtime, options: ControlAPIOptions(address: "127.0.0.1", port: 0), logger: quiet
    ) { port in apiPort.withLock { $0 = port } }
    let server = Task { try await api.run() }
    defer { server.cancel() }
    // Generous: with the whole suite running in parallel on two cores the server can be slow.
    let deadline = ContinuousClock.now + .seconds(60)
    while apiPort.withLock({ $0 }) == nil && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(10))
    }
    let port = try #require(apiPort.withLock { $0 })

    // A UDP port that was free a moment ago, for the listener.
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        _ = bind(fd, $0, len)
        return getsockname(fd, $0, &len)
      }
    }
    close(fd)
    let listenerPort = Int(UInt16(bigEndian: a.sin_port))

    // List items as the API sends them: core-group items without apiVersion and kind.
    let vs = try Self.object(
      #"{"apiVersion": "l7mp.io/v1", "kind": "VirtualService", "metadata": {"name": "vs-a", "namespace": "default", "resourceVersion": "7", "uid": "u1"}, "spec": {"selector": {"matchLabels": {"app": "proxy"}}, "listener": {"spec": {"protocol": "UDP", "port": \#(listenerPort), "address": "127.0.0.1"}, "rules": [{"action": {"route": {"destination": {"spec": {"protocol": "Echo"}}}}}]}}}"#
    )
    let pod = try Self.object(
      #"{"metadata": {"name": "proxy-0", "namespace": "default", "labels": {"app": "proxy"}, "resourceVersion": "3", "uid": "u2"}, "status": {"podIP": "127.0.0.1"}}"#
    )
    let client = try KubernetesClient(
      config: KubernetesConfig(server: "http://127.0.0.1:9"), logger: quiet)
    let bridge = KubernetesBridge(
      client: client, namespace: nil, apiPort: port, token: nil, settle: .milliseconds(20),
      resyncInterval: .seconds(60), logger: quiet)
    let state = WatchedObjects(count: bridge.kinds.count)
    let index = { (kind: String) in bridge.kinds.firstIndex { $0.kind == kind }! }
    for k in bridge.kinds.map(\.kind) {
      await state.apply(
        .resynced(k == "VirtualService" ? [vs] : k == "Pod" ? [pod] : []), to: index(k))
    }
    let passes = Task { await bridge.passes(state) }
    defer { passes.cancel() }

    func waitFor(_ condition: @Sendable () async -> Bool) async throws -> Bool {
      let deadline = ContinuousClock.now + .seconds(60)
      while ContinuousClock.now < deadline {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
      }
      return false
    }
    let configured = try await waitFor {
      let l = await runtime.listeners()
      let r = await runtime.rulelists()
      return l.map(\.name) == ["vs-a"] && r.map(\.name) == ["vs-a"]
    }
    #expect(configured)

    await state.apply(.deleted(vs), to: index("VirtualService"))
    // Listener, then rule source, then cluster go: wait for the last of them.
    let emptied = try await waitFor {
      let l = await runtime.listeners()
      let r = await runtime.rulelists()
      let c = await runtime.clusters()
      return l.isEmpty && r.isEmpty && c.isEmpty
    }
    #expect(emptied)
    passes.cancel()
    server.cancel()
    await runtime.shutdown()
    try await client.shutdown()
  }
}
