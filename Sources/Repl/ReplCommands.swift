import Foundation
import RuleLang
import VM

/// The REPL's commands on packets: listing, selecting, editing, evaluating and tracing them.
extension ReplSession {
  // MARK: listing

  func packets(filter: String) -> String {
    reporting { () throws(ReplError) -> String in
      guard let capture else { throw ReplError("no capture loaded; :pcap FILE") }
      var outcomes = outcomes() ?? capture.frames.map(FrameOutcome.unevaluated)
      if filter == "undecodable" {
        outcomes = outcomes.filter { $0.frame.packet == nil }
      } else if filter.hasPrefix("rule ") || filter == "rule" {
        let name = filter.dropFirst(4).trimmingCharacters(in: .whitespaces)
        guard let rules else { throw ReplError("no rules loaded; :load FILE") }
        guard rules.program.rules.contains(where: { $0.name == name }) else {
          let guess = Self.suggestion(name, in: rules.program.rules.map(\.name))
          throw ReplError("no rule named '\(name)'\(guess.map { "; did you mean '\($0)'?" } ?? "")")
        }
        outcomes = outcomes.filter { $0.ruleName(in: rules) == name }
      } else if !filter.isEmpty {
        let holds = try packetFilter(filter)
        outcomes = outcomes.filter { o in o.frame.packet.map(holds) ?? false }
      }
      if outcomes.isEmpty { return "no frames match\n" }
      let note = rules == nil ? "(no rules loaded: :load FILE for verdicts)\n" : ""
      return VerdictTable.text(outcomes, rules) + note
    }
  }

  /// The name most likely meant: the closest spelling, or one that starts with what was typed.
  static func suggestion(_ name: String, in names: [String]) -> String? {
    Spelling.closest(to: name, in: names).first ?? names.first { $0.hasPrefix(name) }
  }

  /// A condition that picks packets, typed for each protocol a capture holds.
  func packetFilter(_ text: String) throws(ReplError) -> (CapturedPacket) -> Bool {
    var checked: [RuleProtocol: CheckedExpression] = [:]
    var firstFailure: CheckedExpression? = nil
    for proto in [RuleProtocol.udp, .tcp] {
      let c = RuleChecker.checkExpression(
        text, name: "filter", protocol: proto, context: rules?.checked)
      if c.hasErrors {
        if firstFailure == nil { firstFailure = c }
        continue
      }
      let t = c.type.unwrapped
      if t != .bool && t != .dynamic {
        throw ReplError(
          "a filter is a condition (bool), but '\(text)' is \(c.type); e.g. UDP.dst_port == 53")
      }
      checked[proto] = c
    }
    if checked.isEmpty, let f = firstFailure {
      throw ReplError(lines: DiagnosticRenderer().render(f.diagnostics, in: f.source))
    }
    return { p in
      guard let c = checked[p.ruleProtocol] else { return false }
      return ReferenceEvaluator.value(of: c.expression, packet: p.packet) == .int(1)
    }
  }

  func runAll() -> String {
    guard capture != nil else { return "error: no capture loaded; :pcap FILE\n" }
    guard let rules, let outcomes = outcomes() else {
      return "error: no rules loaded; :load FILE\n"
    }
    return VerdictTable.text(outcomes, rules) + "\n" + VerdictTable.totals(outcomes, rules)
  }

  // MARK: selecting

  func packet(_ argument: String) -> String {
    reporting { () throws(ReplError) -> String in
      if argument.isEmpty {
        guard selection != nil else {
          throw ReplError("no packet selected; :packet N, or type a packet literal")
        }
        return describeSelection()
      }
      if Self.isPacketLiteral(argument) { return selectLiteral(argument) }
      guard let n = Int(argument) else {
        throw ReplError(":packet takes a frame number or a packet literal, e.g. :packet 3")
      }
      let f = try frame(n)
      if case .undecodable(let reason) = f.content {
        return
          "frame \(n): \(f.wireLength) bytes on the wire, \(f.capturedLength) captured\n  undecodable: \(reason)\n"
      }
      select(frame: f)
      return describeSelection()
    }
  }

  func frame(_ n: Int) throws(ReplError) -> CapturedFrame {
    guard let capture else { throw ReplError("no capture loaded; :pcap FILE") }
    guard n >= 1, n <= capture.frames.count else {
      throw ReplError("no frame \(n); the capture has frames 1 to \(capture.frames.count)")
    }
    return capture.frames[n - 1]
  }

  func selectLiteral(_ text: String) -> String {
    do {
      let p = try PacketLiteral.parse(text)
      selection = Selection(frame: nil, protocol: p.protocol, packet: p.packet)
      return describeSelection()
    } catch {
      return Self.caret(error.message, in: text, offset: error.offset, length: error.length)
    }
  }

  /// An error with the input and a caret under the mistake.
  static func caret(_ message: String, in text: String, offset: Int, length: Int) -> String {
    let bytes = Array(text.utf8)
    let column = String(decoding: bytes.prefix(min(offset, bytes.count)), as: UTF8.self).count
    let first = message.prefix { $0 != "\n" }
    let rest = message.dropFirst(first.count)
    return "error: \(first)\n  \(text)\n  " + String(repeating: " ", count: column) + "^"
      + String(repeating: "~", count: max(0, length - 1)) + "\n"
      + (rest.isEmpty ? "" : String(rest.dropFirst()) + "\n")
  }

  /// The selected packet: where it came from, its fields, its payload, and its verdict.
  func describeSelection() -> String {
    guard let s = selection else { return "" }
    var out = s.label
    if let n = s.frame, let capture {
      let f = capture.frames[n - 1]
      let start = capture.frames[0].time
      out += ": time \(f.time.relative(to: start)) s, \(f.wireLength) bytes on the wire"
    }
    out +=
      "\n  " + PacketLiteral.format(ParsedPacket(protocol: s.protocol, packet: s.packet)) + "\n"
    var rows: [[String]] = []
    for (path, value) in Self.fields(s) where path != "payload" {
      rows.append(["  " + path, value])
    }
    out += VerdictTable.columns(rows)
    if let payload = s.packet.payload, s.protocol.isDatagram {
      out += "  payload (\(payload.count) bytes)\n" + Self.hexDump(payload, limit: 256)
    }
    out += verdictText(s)
    return out
  }

  /// The packet's metadata as `path → value` in the rule language's names.
  static func fields(_ s: Selection) -> [(String, String)] {
    let p = s.packet
    var out: [(String, String)] = []
    if let a = p.srcAddr { out.append(("IP.src_addr", a.description)) }
    if let a = p.dstAddr { out.append(("IP.dst_addr", a.description)) }
    let transport = s.protocol == .udp ? "UDP" : "TCP"
    if let port = p.srcPort { out.append(("\(transport).src_port", String(port))) }
    if let port = p.dstPort { out.append(("\(transport).dst_port", String(port))) }
    func text(_ v: String) -> String { Value.quote(v) }
    if let m = p.httpMethod { out.append(("HTTP.method", text(m))) }
    if let v = p.httpPath { out.append(("HTTP.url.path", text(v))) }
    if let v = p.httpQuery { out.append(("HTTP.url.query", text(v))) }
    if let v = p.httpHost { out.append(("HTTP.url.host", text(v))) }
    for h in p.headers { out.append(("HTTP.headers.\(h.name)", text(h.value))) }
    if let f = p.unixFilename { out.append(("UNIX.filename", text(f))) }
    for l in p.labels { out.append(("labels.\(l.name)", PacketLiteral.formatValue(l.value))) }
    if let payload = p.payload {
      out.append(("payload", ReferenceEvaluator.describe(.bytes(payload))))
    }
    return out
  }

  /// `0000  80 00 00 01 00 00 00 00  de ad be ef              |............|`.
  static func hexDump(_ bytes: [UInt8], limit: Int) -> String {
    var out = ""
    let shown = bytes.prefix(limit)
    for start in stride(from: 0, to: shown.count, by: 16) {
      let row = Array(shown[start..<min(start + 16, shown.count)])
      var hex = ""
      for k in 0..<16 {
        if k == 8 { hex += " " }
        hex += k < row.count ? (row[k] < 16 ? "0" : "") + String(row[k], radix: 16) + " " : "   "
      }
      let ascii = String(
        decoding: row.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
      let offset = String(start, radix: 16)
      out +=
        "    " + String(repeating: "0", count: max(0, 4 - offset.count)) + offset + "  " + hex
        + " |" + ascii + "|\n"
    }
    if bytes.count > limit { out += "    … \(bytes.count - limit) more bytes\n" }
    return out
  }

  /// `verdict: rule sip (line 11) → route to …`, and the `set`s it made.
  func verdictText(_ s: Selection) -> String {
    guard let rules else { return "verdict: no rules loaded (:load FILE)\n" }
    guard let list = rulelistIndex(for: s.protocol) else {
      return
        "verdict: the rules have no \(s.protocol) rulelist (:rulelist NAME runs it through another)\n"
    }
    let v = rules.evaluate(s.packet, rulelist: list)
    var out = "verdict: "
    if let r = v.rule {
      let info = rules.program.rules[r]
      out += "rule \(info.name) (line \(info.line)) → \(rules.actionText(info))\n"
    } else {
      out += "no rule of rulelist \(rules.program.rulelists[list].name) matched → drop\n"
    }
    for w in v.rewrites { out += "  set \(w.path) = \(PacketLiteral.formatValue(w.value))\n" }
    return out
  }

  // MARK: editing

  /// `:set PATH = VALUE` on the selected packet; VALUE in packet-literal syntax.
  func setField(_ argument: String) -> String {
    reporting { () throws(ReplError) -> String in
      guard var s = selection else {
        throw ReplError("no packet selected; :packet N, or type a packet literal")
      }
      guard let eq = argument.firstIndex(of: "=") else {
        throw ReplError("usage: :set PATH = VALUE, e.g. :set UDP.dst_port = 5061")
      }
      let path = argument[..<eq].trimmingCharacters(in: .whitespaces)
      let valueText = argument[argument.index(after: eq)...].trimmingCharacters(in: .whitespaces)
      let value = valueText == "absent" ? nil : try Self.literalValue(valueText)
      try PacketEdit.apply(path: path, value: value, to: &s.packet)
      s.edited = true
      selection = s
      return describeSelection()
    }
  }

  /// A value in packet-literal syntax (`5`, `"text"`, `x"80 00"`, `10.0.0.1`), read by the
  /// packet literal parser as a label's value.
  static func literalValue(_ text: String) throws(ReplError) -> OwnedPacket.Value {
    let prefix = "udp 0.0.0.0:0 -> 0.0.0.0:0 labels {v: "
    let parsed: ParsedPacket
    do {
      parsed = try PacketLiteral.parse(prefix + text + "}")
    } catch {
      let offset = max(0, min(error.offset - prefix.utf8.count, text.utf8.count))
      throw ReplError(
        lines: caret(
          "not a value: \(error.message)\nvalues: 42, 0x1f, \"text\", x\"80 00\", 10.0.0.1, ::1, absent",
          in: text, offset: offset, length: error.length))
    }
    guard let v = parsed.packet.labels.first?.value else { throw ReplError("no value") }
    return v
  }
}
