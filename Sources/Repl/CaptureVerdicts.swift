import RuleLang
import VM

/// Rules ready to run: the checked tree (for traces and expressions), the program and its
/// verified form (for verdicts).
public struct CompiledRules: Sendable {
  public let checked: CheckedFile
  public let program: Program
  public let verified: VerifiedProgram

  public init(checked: CheckedFile, program: Program, verified: VerifiedProgram) {
    self.checked = checked
    self.program = program
    self.verified = verified
  }

  /// Checks, compiles and verifies `source`; the diagnostics (errors and warnings) either way.
  public static func build(_ source: SourceFile) -> (
    rules: CompiledRules?, diagnostics: [Diagnostic]
  ) {
    let checked = RuleChecker.check(source)
    if checked.hasErrors { return (nil, checked.diagnostics) }
    switch RuleCompiler.compile(checked) {
    case .failure(let e): return (nil, checked.diagnostics + e.diagnostics)
    case .success(let program):
      do {
        let verified = try Verifier.verify(program)
        return (
          CompiledRules(checked: checked, program: program, verified: verified), checked.diagnostics
        )
      } catch {
        let d = Diagnostic.error(
          "the compiled program fails verification: \(error.description)",
          at: SourceRange(0, 0))
        return (nil, checked.diagnostics + [d])
      }
    }
  }

  /// The rulelist a packet of `proto` goes to: `chosen` when given, else the first for its
  /// protocol (nil: there is none).
  public func rulelist(for proto: RuleProtocol, chosen: Int?) -> Int? {
    if let chosen { return chosen }
    return program.rulelists.firstIndex { $0.protocolName == proto.rawValue }
  }

  /// `route to worker via transcoder`, `drop`, `apply other`.
  public func actionText(_ rule: RuleInfo) -> String {
    switch rule.action {
    case .route(let k): return "route to " + program.routes[k].description
    case .drop: return "drop"
    case .apply(let l): return "apply " + program.rulelists[l].name
    }
  }

  /// Runs a packet through the VM.
  public func evaluate(_ packet: OwnedPacket, rulelist: Int) -> PacketVerdict {
    let (verdict, rewrites) = VM.evaluate(verified, rulelist: rulelist, packet: packet)
    return PacketVerdict(
      rulelist: rulelist, rule: verdict.matched ? Int(verdict.rule) : nil, rewrites: rewrites)
  }
}

/// The VM's verdict on one packet.
public struct PacketVerdict: Sendable {
  /// The rulelist the packet was run through.
  public let rulelist: Int
  /// The rule that decided (index into `Program.rules`), nil when none matched (dropped).
  public let rule: Int?
  public let rewrites: [(path: String, value: OwnedPacket.Value)]
}

/// What became of one captured frame.
public struct FrameOutcome: Sendable {
  public let frame: CapturedFrame
  public let result: Result

  public enum Result: Sendable {
    case undecodable(DecodeFailure)
    /// The rules have no rulelist for this packet's protocol.
    case noRulelist(RuleProtocol)
    case evaluated(PacketVerdict)
  }

  /// The kind of outcome, as expectations name it.
  public enum Kind: String, Sendable, CaseIterable, Decodable {
    case route, drop
    case noMatch = "no-match"
    case undecodable
    case noRulelist = "no-rulelist"
  }

  /// A frame before any rules ran on it (no rules are loaded): a packet is listed as not run.
  public static func unevaluated(_ frame: CapturedFrame) -> FrameOutcome {
    switch frame.content {
    case .undecodable(let reason): return FrameOutcome(frame: frame, result: .undecodable(reason))
    case .packet(let p): return FrameOutcome(frame: frame, result: .noRulelist(p.ruleProtocol))
    }
  }

  public func kind(in rules: CompiledRules) -> Kind {
    switch result {
    case .undecodable: return .undecodable
    case .noRulelist: return .noRulelist
    case .evaluated(let v):
      guard let r = v.rule else { return .noMatch }
      if case .route = rules.program.rules[r].action { return .route }
      return .drop
    }
  }

  /// The matched rule's name.
  public func ruleName(in rules: CompiledRules) -> String? {
    guard case .evaluated(let v) = result, let r = v.rule else { return nil }
    return rules.program.rules[r].name
  }

  /// The route's destination, when routed.
  public func destination(in rules: CompiledRules) -> String? {
    guard case .evaluated(let v) = result, let r = v.rule,
      case .route(let k) = rules.program.rules[r].action
    else { return nil }
    return rules.program.routes[k].destination
  }

  /// `drop (no rule matched)`, `route to worker via transcoder`, `undecodable: …`.
  public func actionText(in rules: CompiledRules) -> String {
    switch result {
    case .undecodable(let reason): return "undecodable: \(reason)"
    case .noRulelist(let p): return "not run: the rules have no \(p) rulelist"
    case .evaluated(let v):
      guard let r = v.rule else { return "drop (no rule matched)" }
      return rules.actionText(rules.program.rules[r])
    }
  }

  /// `rule 'sip' → route to …`, for messages.
  public func summary(in rules: CompiledRules) -> String {
    if let name = ruleName(in: rules) { return "rule '\(name)' → \(actionText(in: rules))" }
    return actionText(in: rules)
  }
}

/// Runs every frame of a capture through the rules.
public enum CaptureRun {
  /// `rulelist`: run every packet through this one; nil: each through the first rulelist for its
  /// protocol.
  public static func run(_ capture: Capture, _ rules: CompiledRules, rulelist: Int?)
    -> [FrameOutcome]
  {
    capture.frames.map { frame in
      switch frame.content {
      case .undecodable(let reason): return FrameOutcome(frame: frame, result: .undecodable(reason))
      case .packet(let p):
        guard let list = rules.rulelist(for: p.ruleProtocol, chosen: rulelist) else {
          return FrameOutcome(frame: frame, result: .noRulelist(p.ruleProtocol))
        }
        return FrameOutcome(
          frame: frame, result: .evaluated(rules.evaluate(p.packet, rulelist: list)))
      }
    }
  }

  /// How many packets each rule decided, in rule order, then the other outcomes:
  /// `[("from-gateway", 2), ("sip", 1), …, ("no rule matched", 1), ("undecodable", 2)]`.
  public static func totals(_ outcomes: [FrameOutcome], _ rules: CompiledRules) -> [(
    String, Int
  )] {
    var perRule = [Int](repeating: 0, count: rules.program.rules.count)
    var noMatch = 0
    var undecodable = 0
    var notRun = 0
    for o in outcomes {
      switch o.result {
      case .undecodable: undecodable += 1
      case .noRulelist: notRun += 1
      case .evaluated(let v):
        if let r = v.rule { perRule[r] += 1 } else { noMatch += 1 }
      }
    }
    var out: [(String, Int)] = []
    let lists = Set(rules.program.rules.map(\.rulelist)).count
    for (k, r) in rules.program.rules.enumerated() {
      let name = lists > 1 ? "\(rules.program.rulelists[r.rulelist].name)/\(r.name)" : r.name
      out.append((name, perRule[k]))
    }
    out.append(("no rule matched (dropped)", noMatch))
    if notRun > 0 { out.append(("not run (no rulelist for the protocol)", notRun)) }
    out.append(("undecodable", undecodable))
    return out
  }
}
