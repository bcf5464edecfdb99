import Config
import NIOCore
import Synchronization

/// A configured cluster: its endpoints, how one is chosen, and its counters.
final class ClusterRuntime: Sendable {
  let config: ClusterConfig
  let counters: ClusterCounters
  private let nextIndex = Atomic<Int>(0)

  init(_ config: ClusterConfig, counters: ClusterCounters) {
    self.config = config
    self.counters = counters
  }

  var name: String { config.name }

  /// The endpoint for a new connection of a session: `Trivial` the first, `RoundRobin` the next
  /// in turn, `ConsistentHash` the one a hash of the session's metadata at `key` picks
  /// (rendezvous hashing, so removing an endpoint moves only the keys that were on it). A session
  /// without a value at the key hashes the empty string.
  func pickEndpoint(_ metadata: SessionMetadata) -> EndpointConfig? {
    let endpoints = config.endpoints
    guard !endpoints.isEmpty else { return nil }
    switch config.loadbalancer.policy {
    case .trivial:
      return endpoints[0]
    case .roundRobin:
      let k = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
      return endpoints[(k % endpoints.count + endpoints.count) % endpoints.count]
    case .consistentHash:
      let key = config.loadbalancer.key.flatMap { metadata.value(at: $0) } ?? ""
      return endpoints.max { a, b in
        Self.fnv1a(key + "\u{0}" + a.name) < Self.fnv1a(key + "\u{0}" + b.name)
      }
    }
  }

  /// A stable hash (Swift's `Hasher` is seeded per process; endpoints must not move on restart).
  static func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
      h ^= UInt64(b)
      h = h &* 0x100_0000_01b3
    }
    return h
  }

  /// Where to connect for an endpoint: an IP address and port (`address` may be a host name,
  /// resolved here), or a Unix socket path.
  func socketAddress(of endpoint: EndpointConfig) throws -> SocketAddress {
    let spec = endpoint.spec
    if config.spec.protocol == .unixDomainSocket {
      guard let path = spec.filename ?? config.spec.filename ?? spec.address else {
        throw UpstreamError("cluster '\(name)': endpoint '\(endpoint.name)' has no filename")
      }
      return try SocketAddress(unixDomainSocketPath: path)
    }
    guard let port = spec.port ?? config.spec.port else {
      throw UpstreamError("cluster '\(name)': endpoint '\(endpoint.name)' has no port")
    }
    let host = spec.address ?? "127.0.0.1"
    if let a = try? SocketAddress(ipAddress: host, port: port) { return a }
    return try SocketAddress.makeAddressResolvingHost(host, port: port)
  }
}

struct UpstreamError: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}
