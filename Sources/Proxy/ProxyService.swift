import Config
import Logging
import NIOCore
import ServiceLifecycle

/// The running data plane as a service: serves until a graceful shutdown (SIGTERM, SIGINT), then
/// closes its listeners and sessions.
public struct ProxyService: Service {
  public let runtime: ProxyRuntime
  /// Called once signals are trapped (so that a SIGTERM right after it shuts down gracefully).
  let onStart: @Sendable () async -> Void

  public init(runtime: ProxyRuntime, onStart: @escaping @Sendable () async -> Void = {}) {
    self.runtime = runtime
    self.onStart = onStart
  }

  public func run() async throws {
    await onStart()
    try? await gracefulShutdown()
    proxyLogger.info("shutting down: closing listeners and sessions")
    await runtime.shutdown()
  }
}

/// Runs services until SIGTERM or SIGINT asks them to stop.
public enum SignalHandling {
  public static func run(_ services: [any Service], logger: Logger) async throws {
    let group = ServiceGroup(
      services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
      logger: logger)
    try await group.run()
  }
}

/// Keeps a server channel (`l7mp echo`) open until a graceful shutdown.
public struct ChannelService: Service {
  let channel: any Channel
  let onStart: @Sendable () async -> Void

  public init(channel: any Channel, onStart: @escaping @Sendable () async -> Void = {}) {
    self.channel = channel
    self.onStart = onStart
  }

  public func run() async throws {
    await onStart()
    try? await gracefulShutdown()
    try? await channel.close()
  }
}
