import RuleLang

/// The rule source of a REPL session: the loaded file's text, with the definitions typed at the
/// prompt spliced in. A typed `rule` replaces the rule of that name in the target rulelist, or is
/// added at its end; a `rulelist` or `const` replaces the declaration of that name, or is added at
/// the end of the source. The text stays the file's own everywhere else (comments, order), so
/// diagnostics and `:source` read like the file.
enum SessionSource {
  /// What a definition typed at the prompt is.
  enum Definition {
    case rule(name: String, text: String)
    case rulelist(name: String, text: String)
    case const(name: String, text: String)
  }

  /// Whether `line` starts a definition (`rule …`, `rulelist …`, `const …`).
  static func startsDefinition(_ line: String) -> Bool {
    let word = line.drop { $0 == " " || $0 == "\t" }.prefix { !$0.isWhitespace }
    return word == "rule" || word == "rulelist" || word == "const"
  }

  /// Whether a definition typed so far is complete: its braces balance, and a `rule` or
  /// `rulelist` has opened its body. Strings and comments are skipped.
  static func isComplete(_ text: String) -> Bool {
    let depth = braceDepth(text)
    if depth.unterminated { return false }
    let word = text.drop { $0.isWhitespace }.prefix { !$0.isWhitespace }
    if word == "rule" || word == "rulelist" { return depth.opened && depth.depth <= 0 }
    return depth.depth <= 0
  }

  /// The nesting depth of braces at the end of `text`, whether any brace was opened, and whether
  /// the text ends inside a string or a block comment.
  static func braceDepth(_ text: String) -> (depth: Int, opened: Bool, unterminated: Bool) {
    let s = Array(text.utf8)
    var depth = 0
    var opened = false
    var i = 0
    while i < s.count {
      let c = s[i]
      if c == UInt8(ascii: "\"") {
        i += 1
        while i < s.count, s[i] != UInt8(ascii: "\"") {
          if s[i] == UInt8(ascii: "\\") { i += 1 }
          i += 1
        }
        if i >= s.count { return (depth, opened, true) }
      } else if c == UInt8(ascii: "/"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "/") {
        while i < s.count, s[i] != 0x0A { i += 1 }
      } else if c == UInt8(ascii: "/"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "*") {
        i += 2
        while i + 1 < s.count, !(s[i] == UInt8(ascii: "*") && s[i + 1] == UInt8(ascii: "/")) {
          i += 1
        }
        if i + 1 >= s.count { return (depth, opened, true) }
        i += 1
      } else if c == UInt8(ascii: "{") {
        depth += 1
        opened = true
      } else if c == UInt8(ascii: "}") {
        depth -= 1
      }
      i += 1
    }
    return (depth, opened, false)
  }

  /// Reads a typed definition; an error message when it is not one declaration of its kind.
  static func parse(_ text: String) throws(ReplError) -> Definition {
    let word = text.drop { $0.isWhitespace }.prefix { !$0.isWhitespace }
    if word == "rule" {
      // A rule alone is not a file: parse it inside a rulelist to read its name.
      let wrapped = "rulelist repl-input for UDP {\n" + text + "\n}\n"
      let (file, diags) = Parser.parse(SourceFile(name: "<input>", text: wrapped))
      if diags.hasErrors { throw ReplError(firstError(diags, wrapped, wrapped: true)) }
      guard file.declarations.count == 1, let list = file.rulelists.first,
        list.rules.count == 1, let rule = list.rules.first
      else { throw ReplError("type one rule at a time") }
      return .rule(name: rule.name.text, text: text)
    }
    let (file, diags) = Parser.parse(SourceFile(name: "<input>", text: text))
    if diags.hasErrors { throw ReplError(firstError(diags, text, wrapped: false)) }
    guard file.declarations.count == 1, let decl = file.declarations.first else {
      throw ReplError("type one definition at a time")
    }
    switch decl {
    case .rulelist(let r): return .rulelist(name: r.name.text, text: text)
    case .const(let c): return .const(name: c.name.text, text: text)
    }
  }

  /// The first error, at its line and column in what was typed (`wrapped`: inside the one-line
  /// rulelist header `parse` adds).
  static func firstError(_ diags: DiagnosticBag, _ text: String, wrapped: Bool) -> String {
    guard let d = diags.diagnostics.first(where: { $0.severity == .error }) else { return "" }
    let source = SourceFile(name: "<input>", text: text)
    let at = source.location(of: d.range.start)
    let line = wrapped ? at.line - 1 : at.line
    return "line \(line), column \(at.column): \(d.message)\n  \(source.lineText(at.line))"
  }

  /// `source` with `definition` applied: the new text and what was done, in words.
  static func apply(_ definition: Definition, to source: String, rulelist target: String?)
    -> (text: String, summary: String)
  {
    let (file, _) = Parser.parse(SourceFile(name: "<session>", text: source))
    let bytes = Array(source.utf8)
    func splice(_ range: SourceRange, _ text: String) -> String {
      String(decoding: bytes[..<range.start], as: UTF8.self) + text
        + String(decoding: bytes[range.end...], as: UTF8.self)
    }
    func append(_ text: String) -> String {
      var s = source
      if !s.isEmpty, !s.hasSuffix("\n") { s += "\n" }
      return s + text + "\n"
    }
    switch definition {
    case .const(let name, let text):
      if let c = file.constants.first(where: { $0.name.text == name }) {
        return (splice(c.range, text), "replaced const \(name)")
      }
      return (append(text), "defined const \(name)")
    case .rulelist(let name, let text):
      if let r = file.rulelists.first(where: { $0.name.text == name }) {
        return (splice(r.range, text), "replaced rulelist \(name)")
      }
      return (append(text), "defined rulelist \(name)")
    case .rule(let name, let text):
      let list = file.rulelists.first { $0.name.text == target } ?? file.rulelists.first
      guard let list else {
        return (
          append("rulelist repl for UDP {\n  " + text + "\n}"),
          "defined rule \(name) in a new rulelist repl (UDP)"
        )
      }
      if let old = list.rules.first(where: { $0.name.text == name }) {
        return (splice(old.range, text), "replaced rule \(name) in rulelist \(list.name.text)")
      }
      // Before the rulelist's closing brace.
      var end = list.range.end - 1
      while end > list.range.start, bytes[end] != UInt8(ascii: "}") { end -= 1 }
      return (
        splice(SourceRange(end, end), "  " + text + "\n"),
        "added rule \(name) at the end of rulelist \(list.name.text)"
      )
    }
  }
}
