import Config
import NIOCore
import Synchronization

/// What a bound listener is to the runtime: where it is bound, and how to close it.
protocol BoundListener: Sendable {
  var localAddress: SocketAddress? { get }
  func close() async
}

/// A listener that is a NIO server channel (WebSocket, TCP, Unix socket).
struct ChannelListener: BoundListener {
  let channel: any Channel
  var localAddress: SocketAddress? { channel.localAddress }
  func close() async { try? await channel.close() }
}

/// A configured listener: its rules (swapped as a whole), its counters, its bound socket.
final class ListenerRuntime: Sendable {
  let name: String
  private let current: Mutex<ListenerConfig>
  let counters: ListenerCounters
  let runtime: ProxyRuntime
  private let snapshot: Mutex<RulesSnapshot?>
  private let boundSocket = Mutex<(any BoundListener)?>(nil)

  init(
    config: ListenerConfig, counters: ListenerCounters, runtime: ProxyRuntime,
    rules: RulesSnapshot?
  ) {
    self.name = config.name
    self.current = Mutex(config)
    self.counters = counters
    self.runtime = runtime
    self.snapshot = Mutex(rules)
  }

  /// Replaced in place by a `put` that keeps the address (only the rulelist may change then).
  var config: ListenerConfig {
    get { current.withLock { $0 } }
    set { current.withLock { $0 = newValue } }
  }

  /// The rules for the next packet.
  var rules: RulesSnapshot? { snapshot.withLock { $0 } }

  /// Changes with every `setRules`: a listener keeps the rules it read with the version it saw,
  /// and reads them again (taking the lock) only when the version moved.
  private let version = Atomic<Int>(0)
  var rulesVersion: Int { version.load(ordering: .acquiring) }

  func setRules(_ rules: RulesSnapshot?) {
    snapshot.withLock {
      $0 = rules
      version.add(1, ordering: .releasing)
    }
  }

  var bound: (any BoundListener)? {
    get { boundSocket.withLock { $0 } }
    set { boundSocket.withLock { $0 = newValue } }
  }

  /// Where it is bound (the port the OS chose for port 0).
  var localAddress: SocketAddress? { bound?.localAddress }

  func close() async {
    await bound?.close()
  }
}
