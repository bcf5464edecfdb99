/// Prints diagnostics the way compilers do:
///
///     gateway.rules:4:27: error: unknown metadata field 'IP.src_adr'
///       rule a when IP.src_adr == 10.0.0.1 {
///                   ^~~~~~~~~~
///       fix-it: replace with 'IP.src_addr'
public struct DiagnosticRenderer: Sendable {
  public var color: Bool

  public init(color: Bool = false) {
    self.color = color
  }

  public func render(_ diagnostics: [Diagnostic], in source: SourceFile) -> String {
    var out = ""
    for d in diagnostics { out += render(d, in: source) }
    return out
  }

  public func render(_ d: Diagnostic, in source: SourceFile) -> String {
    let loc = source.location(of: d.range.start)
    var out = "\(source.name):\(loc.line):\(loc.column): \(paint(d.severity)): \(d.message)\n"
    out += snippet(d.range, in: source)
    for fix in d.fixIts {
      let fixLoc = source.location(of: fix.range.start)
      let replacement = Diagnostic.clipped(fix.replacement, to: 200)
      let written = Diagnostic.clipped(source.text(of: fix.range), to: 200)
      let what =
        fix.range.length == 0
        ? "insert '\(replacement)'"
        : fix.replacement.isEmpty
          ? "remove '\(written)'"
          : "replace '\(written)' with '\(replacement)'"
      out += "  fix-it \(fixLoc.line):\(fixLoc.column): \(what)\n"
    }
    for note in d.notes {
      if let r = note.range {
        let l = source.location(of: r.start)
        out += "\(source.name):\(l.line):\(l.column): note: \(note.message)\n"
        out += snippet(r, in: source)
      } else {
        out += "  note: \(note.message)\n"
      }
    }
    return out
  }

  /// Lines longer than this many bytes are shown as a window around the range ("…" at the cut
  /// ends), so that a huge line does not make every diagnostic on it huge.
  public static let maxSnippetLine = 500

  /// The source line with a caret under the start of the range and tildes under the rest of it (up
  /// to the end of that line).
  func snippet(_ range: SourceRange, in source: SourceFile) -> String {
    let loc = source.location(of: range.start)
    var line = source.lineText(loc.line)
    var lineBytes = Array(line.utf8)
    var column = loc.column - 1  // bytes before the caret on the line as shown
    if lineBytes.count > DiagnosticRenderer.maxSnippetLine {
      var from = max(0, min(column, lineBytes.count) - 80)
      while from > 0, lineBytes[from] & 0xC0 == 0x80 { from -= 1 }
      var to = min(lineBytes.count, from + 240)
      while to < lineBytes.count, lineBytes[to] & 0xC0 == 0x80 { to += 1 }
      let head = from > 0 ? "…" : ""
      line =
        head + String(decoding: lineBytes[from..<to], as: UTF8.self)
        + (to < lineBytes.count ? "…" : "")
      column += head.utf8.count - from
      lineBytes = Array(line.utf8)
    }
    var marker = ""
    // Keep tabs in the indentation so the caret lines up in a terminal.
    for i in 0..<min(column, lineBytes.count) {
      let b = lineBytes[i]
      if b == UInt8(ascii: "\t") {
        marker += "\t"
      } else if b & 0xC0 != 0x80 {
        marker += " "
      }
    }
    let available = max(1, lineBytes.count - column)
    let width = max(1, min(range.length, available))
    marker += "^" + String(repeating: "~", count: width - 1)
    return "  \(line)\n  \(marker)\n"
  }

  private func paint(_ s: Severity) -> String {
    guard color else { return s.rawValue }
    switch s {
    case .error: return "\u{1B}[1;31merror\u{1B}[0m"
    case .warning: return "\u{1B}[1;35mwarning\u{1B}[0m"
    case .note: return "\u{1B}[1;36mnote\u{1B}[0m"
    }
  }
}

/// Diagnostics as JSON for editors and CI: one object per diagnostic, positions 1-based.
public enum DiagnosticJSON {
  public static func render(_ files: [(SourceFile, [Diagnostic])]) -> String {
    var items: [String] = []
    for (source, diagnostics) in files {
      for d in diagnostics { items.append(object(d, in: source)) }
    }
    return "[" + items.joined(separator: ",\n ") + "]\n"
  }

  static func object(_ d: Diagnostic, in source: SourceFile) -> String {
    let start = source.location(of: d.range.start)
    let end = source.location(of: d.range.end)
    var fields = [
      "\"file\":\(quote(source.name))",
      "\"line\":\(start.line)",
      "\"column\":\(start.column)",
      "\"endLine\":\(end.line)",
      "\"endColumn\":\(end.column)",
      "\"offset\":\(start.offset)",
      "\"length\":\(d.range.length)",
      "\"severity\":\(quote(d.severity.rawValue))",
      "\"message\":\(quote(d.message))",
    ]
    let fixits = d.fixIts.map { f -> String in
      let s = source.location(of: f.range.start)
      let e = source.location(of: f.range.end)
      return
        "{\"line\":\(s.line),\"column\":\(s.column),\"endLine\":\(e.line),\"endColumn\":\(e.column),"
        + "\"replacement\":\(quote(f.replacement))}"
    }
    fields.append("\"fixits\":[\(fixits.joined(separator: ","))]")
    let notes = d.notes.map { n -> String in
      guard let r = n.range else { return "{\"message\":\(quote(n.message))}" }
      let s = source.location(of: r.start)
      return "{\"message\":\(quote(n.message)),\"line\":\(s.line),\"column\":\(s.column)}"
    }
    fields.append("\"notes\":[\(notes.joined(separator: ","))]")
    return "{" + fields.joined(separator: ",") + "}"
  }

  /// A JSON string literal.
  public static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 {
          let hex = String(u.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }
}
