import Foundation
import Logging

/// `l7mp bridge --kubernetes`: the same passes as `ManifestBridge`, with the objects read from the
/// Kubernetes API (list + watch of VirtualServices, Routes, Services, EndpointSlices and Pods)
/// instead of files. A pass runs once every watch has listed its objects, then after changes
/// (gathered for `settle`), and at least every `resyncInterval`.
public struct KubernetesBridge: Sendable {
  public let client: KubernetesClient
  /// nil: every namespace the service account may read.
  public var namespace: String?
  public var apiPort: Int
  public var token: String?
  public var settle: Duration
  public var resyncInterval: Duration
  public var logger: Logger

  public init(
    client: KubernetesClient, namespace: String?, apiPort: Int, token: String?,
    settle: Duration = .milliseconds(500), resyncInterval: Duration = .seconds(10), logger: Logger
  ) {
    self.client = client
    self.namespace = namespace
    self.apiPort = apiPort
    self.token = token
    self.settle = settle
    self.resyncInterval = resyncInterval
    self.logger = logger
  }

  /// What is watched, and the `apiVersion`/`kind` its list items lack (the API leaves them out of
  /// the items of core-group lists; the manifest reader needs them).
  var kinds: [(resource: KubernetesResource, apiVersion: String, kind: String)] {
    [
      (.virtualServices(namespace: namespace), "l7mp.io/v1", "VirtualService"),
      (.routes(namespace: namespace), "l7mp.io/v1", "Route"),
      (.services(namespace: namespace), "v1", "Service"),
      (.endpointSlices(namespace: namespace), "discovery.k8s.io/v1", "EndpointSlice"),
      (.pods(namespace: namespace), "v1", "Pod"),
    ]
  }

  /// Watches and passes until the task is cancelled.
  public func run() async {
    let state = WatchedObjects(count: kinds.count)
    await withTaskGroup(of: Void.self) { group in
      for (i, k) in kinds.enumerated() {
        let watcher = ResourceWatcher(client: client, resource: k.resource, logger: logger)
        group.addTask {
          await watcher.run { change in await state.apply(change, to: i) }
        }
      }
      group.addTask { await passes(state) }
      await group.waitForAll()
    }
  }

  func passes(_ state: WatchedObjects) async {
    var seen = -1
    var known: [String: String] = [:]
    var lastPass = ContinuousClock.now
    while !Task.isCancelled {
      try? await Task.sleep(for: settle)
      let (generation, synced) = await state.status()
      guard synced else { continue }
      if generation == seen && ContinuousClock.now - lastPass < resyncInterval { continue }
      seen = generation
      lastPass = .now
      let files = await state.objects().map { entry in
        (
          name: "kubernetes:\(kinds[entry.kind].kind)/\(entry.object.key)",
          bytes: Self.withKind(
            entry.object.json, kinds[entry.kind].apiVersion, kinds[entry.kind].kind)
        )
      }
      ManifestBridge.log(
        await ManifestBridge.pass(
          files: files, problems: [], apiPort: apiPort, token: token, logger: logger,
          known: &known), logger)
    }
  }

  /// The object's JSON with `apiVersion` and `kind` set if it lacks them.
  static func withKind(_ json: [UInt8], _ apiVersion: String, _ kind: String) -> [UInt8] {
    guard var object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
      return json
    }
    if object["apiVersion"] == nil { object["apiVersion"] = apiVersion }
    if object["kind"] == nil { object["kind"] = kind }
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    else { return json }
    return Array(data)
  }
}

/// The objects every watcher has seen, and a generation that moves with every change.
actor WatchedObjects {
  private var caches: [ResourceCache]
  private var synced: [Bool]
  private var generation = 0

  init(count: Int) {
    caches = Array(repeating: ResourceCache(), count: count)
    synced = Array(repeating: false, count: count)
  }

  func apply(_ change: ResourceChange, to kind: Int) {
    caches[kind].apply(change)
    if case .resynced = change { synced[kind] = true }
    generation += 1
  }

  func status() -> (generation: Int, synced: Bool) { (generation, synced.allSatisfy { $0 }) }

  func objects() -> [(kind: Int, object: KubernetesObject)] {
    caches.enumerated().flatMap { i, c in c.sorted.map { (i, $0) } }
  }
}
