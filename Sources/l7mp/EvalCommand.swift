import ArgumentParser
import Foundation
import RuleLang
import VM

/// `l7mp eval FILE --packet LITERAL…`: run rules on synthetic packets and show each verdict.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Run rules on synthetic packets and print each verdict.",
    discussion: """
      Compiles and verifies FILE (a .rules file or a compiled .l7b program), then evaluates a \
      rulelist for each --packet, and prints the rule that matched (name and line), its action \
      (route or drop; a packet no rule matches is dropped) and the rewrites its 'set's made.

      Packets are one-line literals (docs/packets.md has the grammar):
        udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello"
        udp [::1]:5000 -> [::1]:53 payload x"80 00 1f" labels {ssrc: 5}
        tcp 10.0.0.1:40000 -> 10.0.0.2:80
        ws 127.0.0.1:40000 -> 127.0.0.1:8888 GET /path?x=1 headers {"id": "1"} payload "hi"
        uds /var/run/sock/uds-echo.sock

      The rulelist is --rulelist if given; otherwise the file's only rulelist, or the first one \
      for the packet's protocol.

      Exit status: 0 evaluated; 1 the rules have errors; 2 usage errors (a malformed packet, an \
      unknown or ambiguous rulelist, a file that cannot be read).
      """
  )

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case text, json
  }

  @Argument(help: "A .rules file ('-' for standard input) or a compiled .l7b program.")
  var file: String

  @Option(
    name: .customLong("packet"),
    help: ArgumentHelp(
      "A packet literal, e.g. 'udp 10.0.0.1:5000 -> 10.0.0.2:53 payload \"hi\"' (repeatable).",
      valueName: "literal"))
  var packets: [String] = []

  @Option(
    help: "The rulelist to run (default: the only one, or the first for the packet's protocol).")
  var rulelist: String?

  @Option(help: "Output format: 'text' for people, 'json' for scripts.")
  var format: Format = .text

  func validate() throws {
    if packets.isEmpty {
      throw ValidationError(
        "give at least one --packet, e.g. --packet 'udp 10.0.0.1:5000 -> 10.0.0.2:53 payload \"hi\"'"
      )
    }
  }

  func run() throws {
    // Packets first: a mistake in one is a usage error, whatever the rules say.
    var parsed: [ParsedPacket] = []
    for (k, text) in packets.enumerated() {
      do {
        parsed.append(try PacketLiteral.parse(text))
      } catch {
        Output.error(Self.render(error, in: text, packet: k + 1, of: packets.count))
        throw ExitCode(2)
      }
    }
    let program = try ProgramLoader.load(file)
    let verified = try ProgramLoader.verify(program, name: file)

    var results: [Result] = []
    for (k, p) in parsed.enumerated() {
      let list = try chooseRulelist(program, for: p, packet: k + 1)
      let listInfo = program.rulelists[list]
      if listInfo.protocolName != p.protocol.rawValue {
        Output.error(
          "l7mp eval: warning: packet \(k + 1) is \(p.protocol) but rulelist '\(listInfo.name)' is for \(listInfo.protocolName)\n"
        )
      }
      let (verdict, rewrites) = VM.evaluate(verified, rulelist: list, packet: p.packet)
      results.append(
        Result(
          literal: PacketLiteral.format(p), protocolName: p.protocol.rawValue,
          rulelist: listInfo.name, rule: verdict.matched ? program.rules[Int(verdict.rule)] : nil,
          rewrites: rewrites))
    }
    switch format {
    case .text: Output.write(results.map { render($0, program) }.joined(separator: "\n"))
    case .json:
      Output.write("[" + results.map { json($0, program) }.joined(separator: ",\n ") + "]\n")
    }
  }

  struct Result {
    let literal: String
    let protocolName: String
    let rulelist: String
    let rule: RuleInfo?
    let rewrites: [(path: String, value: OwnedPacket.Value)]
  }

  /// `--rulelist`, the only rulelist, or the first for the packet's protocol.
  func chooseRulelist(_ program: Program, for p: ParsedPacket, packet k: Int) throws -> Int {
    let names = program.rulelists.map { "\($0.name) (\($0.protocolName))" }.joined(separator: ", ")
    if let rulelist {
      guard let i = program.rulelist(named: rulelist) else {
        Output.error("l7mp eval: no rulelist named '\(rulelist)'; the rulelists are \(names)\n")
        throw ExitCode(2)
      }
      return i
    }
    if program.rulelists.count == 1 { return 0 }
    if let i = program.rulelists.firstIndex(where: { $0.protocolName == p.protocol.rawValue }) {
      return i
    }
    Output.error(
      "l7mp eval: no rulelist for \(p.protocol) (packet \(k)); choose one with --rulelist: \(names)\n"
    )
    throw ExitCode(2)
  }

  func actionText(_ rule: RuleInfo, _ program: Program) -> String {
    switch rule.action {
    case .route(let k): return "route to " + program.routes[k].description
    case .drop: return "drop"
    case .apply(let l): return "apply " + program.rulelists[l].name
    }
  }

  func render(_ r: Result, _ program: Program) -> String {
    var out = "packet: \(r.literal)\n"
    if let rule = r.rule {
      let list = program.rulelists[rule.rulelist].name
      let via = list == r.rulelist ? "" : " (via rulelist \(r.rulelist))"
      out += "  rule: \(rule.name) in rulelist \(list), line \(rule.line)\(via)\n"
      out += "  action: \(actionText(rule, program))\n"
    } else {
      out += "  rulelist: \(r.rulelist)\n"
      out += "  no rule matched: dropped\n"
    }
    for w in r.rewrites {
      out += "  set \(w.path) = \(PacketLiteral.formatValue(w.value))\n"
    }
    return out
  }

  func json(_ r: Result, _ program: Program) -> String {
    let q = DiagnosticJSON.quote
    var fields = [
      "\"packet\":\(q(r.literal))", "\"protocol\":\(q(r.protocolName))",
      "\"rulelist\":\(q(r.rulelist))",
    ]
    if let rule = r.rule {
      fields.append(
        "\"rule\":{\"name\":\(q(rule.name)),\"rulelist\":\(q(program.rulelists[rule.rulelist].name)),\"line\":\(rule.line)}"
      )
      switch rule.action {
      case .route(let k):
        let route = program.routes[k]
        fields.append("\"verdict\":\"route\"")
        fields.append(
          "\"route\":{\"destination\":\(q(route.destination)),\"via\":[\(route.via.map(q).joined(separator: ","))],"
            + "\"returnVia\":[\(route.returnVia.map(q).joined(separator: ","))],\"retryOn\":\(q(route.retryOn.rawValue)),"
            + "\"retries\":\(route.retries),\"timeoutNs\":\(route.timeout),\"removeOrphanSessions\":\(route.removeOrphanSessions),"
            + "\"idleTimeoutNs\":\(route.idleTimeout)}")
      default:
        fields.append("\"verdict\":\"drop\"")
      }
      fields.append("\"action\":\(q(actionText(rule, program)))")
    } else {
      fields.append("\"rule\":null")
      fields.append("\"verdict\":\"no-match\"")
      fields.append("\"action\":\"drop\"")
    }
    let rewrites = r.rewrites.map { w -> String in
      switch w.value {
      case .int(let x): return "{\"path\":\(q(w.path)),\"kind\":\"int\",\"value\":\(x)}"
      case .ip(let a):
        return "{\"path\":\(q(w.path)),\"kind\":\"ip\",\"value\":\(q(a.description))}"
      case .bytes(let b):
        let text = String(validating: b, as: UTF8.self).map(q) ?? "null"
        let hex = b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        return "{\"path\":\(q(w.path)),\"kind\":\"bytes\",\"value\":\(text),\"hex\":\(q(hex))}"
      }
    }
    fields.append("\"rewrites\":[\(rewrites.joined(separator: ","))]")
    return "{" + fields.joined(separator: ",") + "}"
  }

  /// The error, the literal, and a caret under the mistake.
  static func render(_ e: PacketLiteralError, in text: String, packet k: Int, of n: Int) -> String {
    let bytes = Array(text.utf8)
    let column = String(decoding: bytes.prefix(e.offset), as: UTF8.self).count
    let width = max(
      1,
      String(
        decoding: bytes[min(e.offset, bytes.count)..<min(e.offset + e.length, bytes.count)],
        as: UTF8.self
      )
      .count)
    // One line of the literal: a literal with newlines shows the line holding the mistake.
    let lineStart = bytes[..<min(e.offset, bytes.count)].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
    let lineEnd = bytes[min(e.offset, bytes.count)...].firstIndex(of: 0x0A) ?? bytes.count
    let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
    let col = column - String(decoding: bytes[..<lineStart], as: UTF8.self).count
    let which = n == 1 ? "--packet" : "--packet \(k)"
    // The message's first line, the literal with the caret, then the rest (the syntax).
    let first = e.message.prefix { $0 != "\n" }
    let rest = e.message.dropFirst(first.count)
    return "l7mp eval: error: \(which): \(first)\n  \(line)\n  "
      + String(repeating: " ", count: col) + "^" + String(repeating: "~", count: width - 1) + "\n"
      + (rest.isEmpty ? "" : String(rest.dropFirst()) + "\n")
  }
}
