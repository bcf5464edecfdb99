import RuleLang

/// Why a packet got its verdict: each rule tried, in order, with every sub-condition's result and
/// the values it compared. Built by the reference evaluator's walk (the same meaning the VM is
/// tested against), for the REPL's `:trace`.
public struct RuleTrace: Sendable {
  public struct Step: Sendable {
    public let rulelist: String
    public let rule: String
    /// The rule's line in the source.
    public let line: Int
    /// nil for a rule without `when` (it matches every packet).
    public let condition: ConditionTrace?
    public let matched: Bool
  }

  public let steps: [Step]
  /// The rule that decided (route or drop), or nil: no rule matched, the packet is dropped.
  public let verdict: (rulelist: String, rule: String)?
  public let rewrites: [(path: String, value: OwnedPacket.Value)]
}

/// One node of a condition: its source text, whether it held, and for a comparison the values of
/// the operands that depend on the packet.
public struct ConditionTrace: Sendable {
  public enum Kind: Sendable { case all, any, not, test }

  public let kind: Kind
  public let text: String
  public let holds: Bool
  /// `(operand text, its value)`: "absent" when the packet has no such value.
  public let operands: [(text: String, value: String)]
  /// The operands of `and`, `or` and `not`.
  public let children: [ConditionTrace]
}

extension ReferenceEvaluator {
  /// The value of a checked expression on `packet`: nil when it is missing (an absent field, a
  /// byte past the end). Conditions give `.int(1)` or `.int(0)`.
  public static func value(of e: Expr, packet: OwnedPacket) -> OwnedPacket.Value? {
    let run = ReferenceRun(packet: packet)
    if e.type.unwrapped == .bool { return .int(run.holds(e) ? 1 : 0) }
    return run.value(e)
  }

  /// Runs `rulelist` of `checked` on `packet` as `evaluate` does, recording every rule tried.
  public static func trace(_ checked: CheckedFile, rulelist: String, packet: OwnedPacket)
    -> RuleTrace
  {
    let run = ReferenceRun(packet: packet)
    var lists: [String: RulelistDecl] = [:]
    for l in checked.file.rulelists where lists[l.name.text] == nil { lists[l.name.text] = l }
    var steps: [RuleTrace.Step] = []
    var current = rulelist
    var applies = 0
    while let list = lists[current], applies <= lists.count {
      var next: String? = nil
      rules: for rule in list.rules {
        let condition = rule.condition.map { run.trace($0) }
        let matched = condition?.holds ?? true
        steps.append(
          RuleTrace.Step(
            rulelist: current, rule: rule.name.text,
            line: checked.source.location(of: rule.name.range.start).line,
            condition: condition, matched: matched))
        guard matched else { continue }
        for action in rule.actions {
          switch action {
          case .set(let target, let value, _): run.set(target, value)
          case .route, .drop:
            return RuleTrace(
              steps: steps, verdict: (current, rule.name.text), rewrites: run.rewrites)
          case .apply(let name, _):
            next = name.text
            break rules
          }
        }
      }
      guard let next else { break }
      current = next
      applies += 1
    }
    return RuleTrace(steps: steps, verdict: nil, rewrites: run.rewrites)
  }

  /// A value as the REPL shows it: `5060`, `10.0.0.1`, `"INVITE …"`, `x"80 00"`; long byte
  /// strings are cut at `limit` bytes.
  public static func describe(_ v: OwnedPacket.Value?, limit: Int = 48) -> String {
    switch v {
    case nil: return "absent"
    case .bytes(let b)? where b.count > limit:
      return PacketLiteral.formatBytes(Array(b.prefix(limit))) + "… (\(b.count) bytes)"
    case let v?: return PacketLiteral.formatValue(v)
    }
  }
}

extension ReferenceRun {
  /// Evaluates every sub-condition (they have no effects), so that the trace shows all that
  /// failed, not only the first.
  func trace(_ e: Expr) -> ConditionTrace {
    switch e.kind {
    case .paren(let x): return trace(x)
    case .not(let x):
      let child = trace(x)
      return ConditionTrace(
        kind: .not, text: ExprPrinter.print(e), holds: holds(e), operands: [], children: [child])
    case .logical(let op, let xs):
      return ConditionTrace(
        kind: op == .and ? .all : .any, text: ExprPrinter.print(e), holds: holds(e),
        operands: [], children: xs.map(trace))
    case .binary(let op, let l, let r, _) where op != .bitAnd:
      return ConditionTrace(
        kind: .test, text: ExprPrinter.print(e), holds: holds(e), operands: operands([l, r]),
        children: [])
    case .call(_, let args):
      return ConditionTrace(
        kind: .test, text: ExprPrinter.print(e), holds: holds(e), operands: operands(args),
        children: [])
    default:
      return ConditionTrace(
        kind: .test, text: ExprPrinter.print(e), holds: holds(e), operands: operands([e]),
        children: [])
    }
  }

  /// The operands that depend on the packet, with their values.
  func operands(_ es: [Expr]) -> [(text: String, value: String)] {
    es.filter { $0.constant == nil }.map {
      (ExprPrinter.print($0), ReferenceEvaluator.describe(value($0)))
    }
  }
}
