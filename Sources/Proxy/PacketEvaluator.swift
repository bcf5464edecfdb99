import NIOCore
import RuleLang
import VM

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A listener's per-packet workspace: one `PacketView` and one rewrite buffer, allocated once and
/// reused for every message, so evaluating a packet allocates nothing. Confined to one event loop.
final class PacketEvaluator {
  let view: UnsafeMutablePointer<PacketView>
  let rewrites: UnsafeMutableBufferPointer<Rewrite>

  init() {
    view = .allocate(capacity: 1)
    view.initialize(to: PacketView())
    rewrites = .allocate(capacity: Verifier.maxRewrites)
  }

  deinit {
    view.deinitialize(count: 1)
    view.deallocate()
    rewrites.deallocate()
  }

  /// Runs the listener's rules on `view` as it is now, and counts the VM time and the match.
  func evaluate(_ snapshot: RulesSnapshot, counters: ListenerCounters) -> Verdict {
    let start = monotonicNanoseconds()
    let verdict = VM.evaluate(
      snapshot.program, rulelist: snapshot.rulelist, packet: UnsafePointer(view),
      rewrites: rewrites)
    let seconds = Double(monotonicNanoseconds() &- start) / 1e9
    counters.vmSeconds.increment(by: seconds)
    if verdict.matched { snapshot.rules.recordMatch(Int(verdict.rule), vmSeconds: seconds) }
    return verdict
  }
}

func monotonicNanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension SocketAddress {
  /// The address as the rule language's `ip`, and its port; nil for Unix sockets.
  var ipAndPort: (IPAddress, Int32)? {
    switch self {
    case .v4(let a):
      let raw = UInt32(bigEndian: a.address.sin_addr.s_addr)
      return (IPAddress(v4: raw), Int32(UInt16(bigEndian: a.address.sin_port)))
    case .v6(let a):
      var addr = a.address.sin6_addr
      let (high, low) = withUnsafeBytes(of: &addr) { raw -> (UInt64, UInt64) in
        var h: UInt64 = 0
        var l: UInt64 = 0
        for k in 0..<8 { h = h << 8 | UInt64(raw[k]) }
        for k in 8..<16 { l = l << 8 | UInt64(raw[k]) }
        return (h, l)
      }
      return (IPAddress(high: high, low: low), Int32(UInt16(bigEndian: a.address.sin6_port)))
    default:
      return nil
    }
  }

  /// `127.0.0.1:9001`, `[::1]:9001`, or the socket path.
  public var displayText: String {
    switch self {
    case .v4, .v6:
      guard let ip = ipAddress, let port else { return "\(self)" }
      return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    case .unixDomainSocket:
      return pathname ?? "unix"
    }
  }
}
