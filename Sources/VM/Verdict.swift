import RuleLang

/// What the VM decided for a packet: the rule that matched (its action is in the program's rule
/// table), or none (the packet is dropped), and how many rewrites were recorded.
public struct Verdict: Sendable, Hashable {
  /// Index into `Program.rules`, or -1 when no rule matched.
  public var rule: Int32
  public var rewriteCount: Int32

  public var matched: Bool { rule >= 0 }
  public static let noMatch = Verdict(rule: -1, rewriteCount: 0)
}

/// A `set` recorded during evaluation. Byte values point into the packet or the program and are
/// valid only while the evaluation's inputs are.
public struct Rewrite {
  /// The path's constant index (`Constant.path`).
  public var path: UInt16
  public var value: RewriteValue
}

public enum RewriteValue {
  case int(Int64)
  case bytes(UnsafeRawBufferPointer, folded: Bool)
  case ip(IPAddress)
  /// A constant of the program: `K[index]`.
  case constant(UInt32)
}
