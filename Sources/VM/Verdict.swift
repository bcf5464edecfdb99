/// The load-time verifier and per-packet interpreter arrive with issue 3 (bytecode and VM).
import RuleLang

/// What the VM decides for a packet.
public enum VerdictKind: Sendable, Equatable {
  case drop
  case route
}
