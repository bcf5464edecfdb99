import Config
import ControlClient

/// A real proxy as a `ReconcileTarget`: its control API through `ControlClient`.
public struct ProxyTarget: ReconcileTarget {
  public let client: ControlClient
  public let displayName: String

  /// `name` is how logs call it (a pod name); the API is at `host:port`.
  public init(name: String? = nil, client: ControlClient) {
    self.client = client
    self.displayName =
      name.map { "\($0) (\(client.host):\(client.port))" } ?? "\(client.host):\(client.port)"
  }

  public func currentConfig() async throws -> ProxyConfig {
    async let listeners = client.list(ListenerConfig.self)
    async let clusters = client.list(ClusterConfig.self)
    async let rulelists = client.list(RulelistConfig.self)
    return try await ProxyConfig(listeners: listeners, clusters: clusters, rulelists: rulelists)
  }

  public func apply(_ step: ReconcileStep) async throws {
    switch step {
    case .addRulelist(let r): try await client.add(r)
    case .replaceRulelist(let r): try await client.put(r)
    case .deleteRulelist(let n): try await client.delete(RulelistConfig.self, named: n)
    case .addCluster(let c): try await client.add(c)
    case .replaceCluster(let c): try await client.put(c)
    case .deleteCluster(let n): try await client.delete(ClusterConfig.self, named: n)
    case .addListener(let l): try await client.add(l)
    case .replaceListener(let l): try await client.put(l)
    case .deleteListener(let n): try await client.delete(ListenerConfig.self, named: n)
    }
  }
}
