import Config
import Foundation
import Logging
import NIOCore
import RuleLang

/// Packets of one flow that got the same verdict: the chain of upstream connections their route
/// names (ingress stages, destination, egress stages) and what came in and out.
///
/// Confined to its event loop (the listener's): every method runs there, which is why it is
/// `@unchecked Sendable` — the control API reaches it only through `eventLoop.submit`.
final class Session: @unchecked Sendable {
  let name: String
  let listener: ListenerRuntime
  let source: String
  /// `rulelist/rule`.
  let rule: String
  let route: RouteInfo
  let metadata: SessionMetadata
  let eventLoop: any EventLoop
  let created = Date()
  let idleTimeout: TimeAmount
  /// Upstream writes made during a read of the UDP listener or an upstream socket wait here for
  /// one flush (nil for other listeners).
  let batch: WriteBatch?

  /// The client side: where replies go, and what to do when the session ends.
  let replyToClient: (ByteBuffer) -> Void
  var onClose: ((Session) -> Void)?

  private(set) var links: [UpstreamLink] = []
  private(set) var status = "connecting"
  private(set) var closed = false
  var packetsIn: UInt64 = 0
  var packetsOut: UInt64 = 0
  var bytesIn: UInt64 = 0
  var bytesOut: UInt64 = 0
  private(set) var lastActivity = NIODeadline.now()
  /// The loop's idle sweeper holds the session at this index (-1: not held).
  var sweepIndex = -1
  private var io: EventLoopIO?

  init(
    name: String, listener: ListenerRuntime, source: String, rule: String, route: RouteInfo,
    metadata: SessionMetadata, eventLoop: any EventLoop, idleTimeout: TimeAmount,
    batch: WriteBatch? = nil, replyToClient: @escaping (ByteBuffer) -> Void
  ) {
    self.name = name
    self.listener = listener
    self.source = source
    self.rule = rule
    self.route = route
    self.metadata = metadata
    self.eventLoop = eventLoop
    self.idleTimeout = idleTimeout
    self.batch = batch
    self.replyToClient = replyToClient
  }

  /// Resolves the route's clusters and starts connecting. Fails (returns the reason) when a
  /// cluster does not exist or has no endpoint; nothing is left open then.
  func start(clusters: [ClusterRuntime]) -> String? {
    for (k, cluster) in clusters.enumerated() {
      guard let endpoint = cluster.pickEndpoint(metadata) else {
        if cluster.config.spec.protocol == .echo || cluster.config.spec.protocol == .discard {
          links.append(UpstreamLink(session: self, position: k, cluster: cluster, endpoint: nil))
          continue
        }
        return "cluster '\(cluster.name)' has no endpoints"
      }
      links.append(UpstreamLink(session: self, position: k, cluster: cluster, endpoint: endpoint))
    }
    let io = EventLoopIO.of(eventLoop)
    self.io = io
    io.sweeper.add(self)
    for link in links { link.connect() }
    return nil
  }

  /// A message from the client.
  func receive(_ buffer: ByteBuffer) {
    guard !closed, let first = links.first else { return }
    packetsIn += 1
    bytesIn += UInt64(buffer.readableBytes)
    lastActivity = io?.now ?? .now()
    first.send(buffer)
  }

  /// A message from link `position`: on to the next hop, or back to the client after the last.
  func forward(_ buffer: ByteBuffer, from position: Int) {
    guard !closed else { return }
    lastActivity = io?.now ?? .now()
    if position + 1 < links.count {
      links[position + 1].send(buffer)
    } else {
      packetsOut += 1
      bytesOut += UInt64(buffer.readableBytes)
      listener.counters.packetsOut.increment()
      listener.counters.bytesOut.increment(by: Int64(buffer.readableBytes))
      replyToClient(buffer)
    }
  }

  func linkStateChanged() {
    guard !closed else { return }
    status = links.allSatisfy(\.isReady) ? "established" : "connecting"
  }

  /// An upstream could not be reached after the retries: the session ends and is counted.
  func fail(_ reason: String) {
    guard !closed else { return }
    listener.counters.sessionsFailed.increment()
    proxyLogger.warning(
      "session failed", metadata: ["session": "\(name)", "reason": "\(reason)"])
    status = "failed"
    close()
  }

  /// Ends the session: upstream connections closed, removed from its flow and the runtime.
  func close() {
    guard !closed else { return }
    closed = true
    if status != "failed" { status = "closed" }
    io?.sweeper.remove(self)
    for link in links { link.close() }
    onClose?(self)
    onClose = nil
  }

  /// No message either way for `idleTimeout` (the loop's `IdleSweeper` found it).
  func idleExpired() {
    guard !closed else { return }
    proxyLogger.debug("session idle", metadata: ["session": "\(name)"])
    close()
  }

  var info: SessionInfo {
    SessionInfo(
      name: name, listener: listener.name, source: source, rule: rule,
      destination: links.first { $0.position == route.via.count }.map {
        "\($0.cluster.name)/\($0.endpoint?.name ?? $0.cluster.config.spec.protocol.rawValue)"
      } ?? route.destination,
      status: status, created: created.timeIntervalSince1970, packetsIn: packetsIn,
      packetsOut: packetsOut, bytesIn: bytesIn, bytesOut: bytesOut)
  }
}
