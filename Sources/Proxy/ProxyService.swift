import CSystemShim
import Config
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

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
///
/// The signals are caught by a handler that writes to a pipe, read by a thread of its own,
/// rather than by ServiceLifecycle's signal sources (libdispatch's, on the Dispatch threads the
/// rest of the process shares): the shutdown path depends on nothing else being responsive.
public enum SignalHandling {
  private static let groups = Mutex<[ObjectIdentifier: ServiceGroup]>([:])
  /// A signal came: a group registered after it stops at once.
  private static let received = Atomic<Bool>(false)
  /// Installs the handlers and starts the reading thread, once per process.
  private static let trap: Result<Void, IOError> = {
    let signals: [CInt] = [SIGTERM, SIGINT]
    let fd = signals.withUnsafeBufferPointer { l7mp_signal_pipe($0.baseAddress, CInt($0.count)) }
    guard fd >= 0 else { return .failure(IOError(errnoCode: -fd, reason: "signal handlers")) }
    Thread.detachNewThread {
      var byte: UInt8 = 0
      while true {
        let n = read(fd, &byte, 1)
        if n < 0 && errno == EINTR { continue }
        guard n == 1 else { return }
        let name = byte == UInt8(SIGTERM) ? "SIGTERM" : byte == UInt8(SIGINT) ? "SIGINT" : "\(byte)"
        proxyLogger.info("received \(name): shutting down gracefully")
        received.store(true, ordering: .sequentiallyConsistent)
        for group in groups.withLock({ Array($0.values) }) {
          Task { await group.triggerGracefulShutdown() }
        }
      }
    }
    return .success(())
  }()

  public static func run(_ services: [any Service], logger: Logger) async throws {
    try trap.get()
    let group = ServiceGroup(
      services: services, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
    groups.withLock { $0[ObjectIdentifier(group)] = group }
    if received.load(ordering: .sequentiallyConsistent) {
      await group.triggerGracefulShutdown()
    }
    defer { _ = groups.withLock { $0.removeValue(forKey: ObjectIdentifier(group)) } }
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
