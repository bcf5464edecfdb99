import RuleLang
import VM

/// The REPL's commands on expressions and rules: evaluating, typing, tracing, disassembling.
extension ReplSession {
  /// The protocol an expression is typed for: the selected packet's, else the first rulelist's.
  var expressionProtocol: RuleProtocol {
    if let s = selection { return s.protocol }
    if let name = rules?.program.rulelists.first?.protocolName,
      let p = RuleProtocol(rawValue: name)
    {
      return p
    }
    return .udp
  }

  func check(_ text: String) throws(ReplError) -> CheckedExpression {
    let c = RuleChecker.checkExpression(
      text, protocol: expressionProtocol, context: rules?.checked)
    if c.hasErrors {
      throw ReplError(lines: DiagnosticRenderer().render(c.diagnostics, in: c.source))
    }
    return c
  }

  /// A bare expression: its value on the selected packet, and its type.
  func evaluateExpression(_ text: String) -> String {
    reporting { () throws(ReplError) -> String in
      let c = try check(text)
      let warnings = DiagnosticRenderer().render(c.diagnostics, in: c.source)
      if let k = c.expression.constant {
        return warnings + "\(Self.describe(k, c.type)) : \(c.type)\n"
      }
      guard let s = selection else {
        throw ReplError(
          "no packet selected to evaluate '\(text)' on; :packet N, or type a packet literal")
      }
      let v = ReferenceEvaluator.value(of: c.expression, packet: s.packet)
      return warnings + "\(Self.describe(v, c.type)) : \(c.type)\n"
    }
  }

  func typeOf(_ text: String) -> String {
    reporting { () throws(ReplError) -> String in
      let c = try check(text)
      return "\(c.type)\n"
    }
  }

  /// A run-time value as the rule language writes it: `true`, `5060`, `2s`, `"text"`.
  static func describe(_ v: OwnedPacket.Value?, _ t: RuleType) -> String {
    switch (v, t.unwrapped) {
    case (.int(let x)?, .bool): return x != 0 ? "true" : "false"
    case (.int(let x)?, .duration): return Value.duration(x).description
    default: return ReferenceEvaluator.describe(v, limit: 256)
    }
  }

  /// A constant: scalars as values, sets, ranges and CIDRs as written.
  static func describe(_ k: Value, _ t: RuleType) -> String {
    switch k {
    case .bool(let b): return b ? "true" : "false"
    default: return k.description
    }
  }

  // MARK: trace

  func trace(_ argument: String) -> String {
    reporting { () throws(ReplError) -> String in
      if !argument.isEmpty {
        guard let n = Int(argument) else {
          throw ReplError(":trace takes a frame number, e.g. :trace 3")
        }
        let f = try frame(n)
        if case .undecodable(let reason) = f.content {
          throw ReplError("frame \(n) was not decoded (\(reason)): no rule sees it")
        }
        select(frame: f)
      }
      guard let s = selection else {
        throw ReplError("no packet selected; :trace N, or type a packet literal first")
      }
      guard let rules else { throw ReplError("no rules loaded; :load FILE") }
      guard let list = rulelistIndex(for: s.protocol) else {
        throw ReplError(
          "the rules have no \(s.protocol) rulelist; :rulelist NAME runs it through one")
      }
      let listName = rules.program.rulelists[list].name
      let t = ReferenceEvaluator.trace(rules.checked, rulelist: listName, packet: s.packet)
      var out =
        "\(s.label): " + PacketLiteral.format(ParsedPacket(protocol: s.protocol, packet: s.packet))
        + "\n"
      var currentList = ""
      for step in t.steps {
        if step.rulelist != currentList {
          currentList = step.rulelist
          out += "rulelist \(currentList)\n"
        }
        let mark = step.matched ? "✓" : "✗"
        let when = step.condition == nil ? ": no condition, matches every packet" : ""
        out += "  \(mark) rule \(step.rule) (line \(step.line))\(when)\n"
        if let c = step.condition {
          // A rule's `and` is listed as its parts, one a line; anything else as a tree.
          out += Self.lines(c, indent: 6, flatten: c.kind == .all)
        }
      }
      out += "verdict: "
      if let (listName, ruleName) = t.verdict {
        let info = rules.program.rules.first {
          $0.name == ruleName && rules.program.rulelists[$0.rulelist].name == listName
        }
        out += "rule \(ruleName) → \(info.map(rules.actionText) ?? "?")\n"
      } else {
        out += "no rule matched → drop\n"
      }
      for w in t.rewrites { out += "  set \(w.path) = \(PacketLiteral.formatValue(w.value))\n" }
      // The trace walks the syntax tree; the verdict is the VM's. They are tested to agree.
      let vm = rules.evaluate(s.packet, rulelist: list)
      let vmRule = vm.rule.map { rules.program.rules[$0].name }
      if vmRule != t.verdict?.rule {
        out +=
          "warning: the VM decided \(vmRule.map { "rule \($0)" } ?? "no match"); please report this\n"
      }
      return out
    }
  }

  /// `✗ test    (operand = value, …)`, then the parts of `and`, `or` and `not` indented.
  static func lines(_ c: ConditionTrace, indent: Int, flatten: Bool = false) -> String {
    if flatten { return c.children.map { lines($0, indent: indent) }.joined() }
    var out = String(repeating: " ", count: indent) + (c.holds ? "✓ " : "✗ ") + c.text
    let values = c.operands.map { "\($0.text) = \($0.value)" }
    if !values.isEmpty { out += "    (" + values.joined(separator: ", ") + ")" }
    out += "\n"
    for child in c.children { out += lines(child, indent: indent + 2) }
    return out
  }

  // MARK: disassembly

  func disassemble(_ argument: String) -> String {
    reporting { () throws(ReplError) -> String in
      guard let rules else { throw ReplError("no rules loaded; :load FILE") }
      let listing = Disassembler.listing(rules.program)
      if argument.isEmpty { return listing }
      let names = rules.program.rules.map(\.name)
      guard names.contains(argument), let source else {
        let guess = Self.suggestion(argument, in: names)
        throw ReplError(
          "no rule named '\(argument)'\(guess.map { "; did you mean '\($0)'?" } ?? "")")
      }
      return try Self.ruleListing(argument, in: source)
    }
  }

  /// The code of one rule: its rulelist compiled with that rule alone (in the whole program, the
  /// rulelist's index may jump straight to it; the rule's own code is the same).
  static func ruleListing(_ name: String, in source: SourceFile) throws(ReplError) -> String {
    let file = rulesFile(source)
    guard let list = file.rulelists.first(where: { $0.rules.contains { $0.name.text == name } }),
      let rule = list.rules.first(where: { $0.name.text == name })
    else { throw ReplError("no rule named '\(name)'") }
    let alone =
      "rulelist \(list.name.text) for \(list.protocolName.text) {\n  "
      + source.text(of: rule.range) + "\n}"
    let bytes = source.bytes
    let text =
      String(decoding: bytes[..<list.range.start], as: UTF8.self) + alone
      + String(decoding: bytes[list.range.end...], as: UTF8.self)
    guard let compiled = CompiledRules.build(SourceFile(name: source.name, text: text)).rules else {
      throw ReplError("rule '\(name)' does not compile on its own")
    }
    let listing = Disassembler.listing(compiled.program)
    let header = "rulelist \(list.name.text) for \(list.protocolName.text):"
    let lines = listing.split(separator: "\n", omittingEmptySubsequences: false)
    guard let start = lines.firstIndex(where: { $0 == header }) else { return listing }
    let end = lines[start...].firstIndex {
      $0.isEmpty || ($0.hasPrefix("rulelist ") && $0 != header)
    }
    let code = lines[start..<(end ?? lines.count)]
    return "; rule \(name), compiled alone in its rulelist\n" + code.joined(separator: "\n") + "\n"
  }

  static func rulesFile(_ source: SourceFile) -> RuleFile {
    Parser.parse(source).0
  }
}
