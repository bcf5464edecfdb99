import RuleLang
import VM

/// The verdicts of a capture's frames as a table for people and as JSON for scripts
/// (`l7mp test`, the REPL's `:packets` and `:run`).
public enum VerdictTable {
  /// Columns: frame, time (seconds since the first frame), flow, bytes on the wire, rule,
  /// action; an undecodable frame says why in the action column.
  public static func text(_ outcomes: [FrameOutcome], _ rules: CompiledRules?) -> String {
    let start = outcomes.first?.frame.time ?? CaptureTime(seconds: 0, nanoseconds: 0)
    var rows = [["frame", "time", "flow", "bytes", "rule", "action"]]
    for o in outcomes {
      let f = o.frame
      let flow = f.packet?.flow ?? "-"
      let rule = rules.flatMap { o.ruleName(in: $0) } ?? "-"
      let action: String
      if let rules {
        action = o.actionText(in: rules)
      } else if case .undecodable(let reason) = f.content {
        action = "undecodable: \(reason)"
      } else {
        action = ""
      }
      rows.append([
        String(f.number), f.time.relative(to: start), flow, String(f.wireLength), rule, action,
      ])
    }
    return columns(rows, rightAligned: [0, 3])
  }

  /// Rows padded to columns two spaces apart; the last column is not padded.
  public static func columns(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    guard let n = rows.first?.count else { return "" }
    var widths = [Int](repeating: 0, count: n)
    for r in rows {
      for (k, cell) in r.enumerated() where k < n { widths[k] = max(widths[k], cell.count) }
    }
    var out = ""
    for r in rows {
      var line = ""
      for (k, cell) in r.enumerated() {
        let pad = String(repeating: " ", count: widths[k] - cell.count)
        if k > 0 { line += "  " }
        if rightAligned.contains(k) {
          line += pad + cell
        } else {
          line += k == r.count - 1 ? cell : cell + pad
        }
      }
      while line.last == " " { line.removeLast() }
      out += line + "\n"
    }
    return out
  }

  /// Totals per rule, `rule  packets`.
  public static func totals(_ outcomes: [FrameOutcome], _ rules: CompiledRules) -> String {
    let rows =
      [["rule", "packets"]] + CaptureRun.totals(outcomes, rules).map { [$0.0, String($0.1)] }
    return columns(rows, rightAligned: [1])
  }

  /// One JSON object per frame.
  public static func json(_ outcomes: [FrameOutcome], _ rules: CompiledRules) -> [String] {
    let q = quote
    let start = outcomes.first?.frame.time ?? CaptureTime(seconds: 0, nanoseconds: 0)
    return outcomes.map { o in
      let f = o.frame
      var fields = [
        "\"frame\":\(f.number)", "\"time\":\(q(f.time.iso8601))",
        "\"relativeTime\":\(f.time.relative(to: start))", "\"wireLength\":\(f.wireLength)",
        "\"capturedLength\":\(f.capturedLength)",
      ]
      if let p = f.packet {
        fields.append("\"protocol\":\(q(p.ruleProtocol.rawValue))")
        fields.append("\"flow\":\(q(p.flow))")
        fields.append("\"packet\":\(q(p.literal))")
        fields.append("\"payloadLength\":\(p.packet.payload?.count ?? 0)")
      }
      fields.append("\"verdict\":\(q(o.kind(in: rules).rawValue))")
      switch o.result {
      case .undecodable(let reason): fields.append("\"reason\":\(q(reason.description))")
      case .noRulelist(let p): fields.append("\"reason\":\(q("no \(p) rulelist"))")
      case .evaluated(let v):
        fields.append("\"rulelist\":\(q(rules.program.rulelists[v.rulelist].name))")
        if let r = v.rule {
          let info = rules.program.rules[r]
          fields.append(
            "\"rule\":{\"name\":\(q(info.name)),\"rulelist\":\(q(rules.program.rulelists[info.rulelist].name)),\"line\":\(info.line)}"
          )
        } else {
          fields.append("\"rule\":null")
        }
        if let d = o.destination(in: rules) { fields.append("\"route\":\(q(d))") }
        fields.append("\"action\":\(q(o.actionText(in: rules)))")
        let sets = v.rewrites.map {
          "{\"path\":\(q($0.path)),\"value\":\(q(PacketLiteral.formatValue($0.value)))}"
        }
        fields.append("\"set\":[\(sets.joined(separator: ","))]")
      }
      return "{" + fields.joined(separator: ",") + "}"
    }
  }

  /// A JSON string literal.
  public static func quote(_ s: String) -> String { DiagnosticJSON.quote(s) }
}
