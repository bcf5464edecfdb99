import Config

/// l7mp's JSONPredicate match language, written as rule-language conditions.
///
/// `and`/`or` hold when all/any of `apply` hold, `not` when none does (JSON Predicate's NOR); an
/// optional `path` on them prefixes the paths inside. `test` is equality, `starts`/`ends`/
/// `contains` are prefix, true suffix and substring, `matches` a regular expression, `less`/`more`
/// numeric order, `in` membership in a list, `defined`/`undefined` presence; `ignore_case`
/// compares lower-cased. What l7mp accepted but got wrong (a non-list `in`, `less` on a string,
/// an unknown op) is an error here, at the predicate's position.
struct PredicateTranslator {
  var diagnostics = BridgeDiagnostics()

  static let operators = [
    "and", "or", "not", "test", "starts", "ends", "contains", "matches", "less", "more", "in",
    "defined", "undefined",
  ]

  /// Writes `p` as a condition; false (with diagnostics) if it cannot be written.
  mutating func write(_ p: Predicate, prefix: String = "", into out: inout RuleSourceWriter)
    -> Bool
  {
    var ok = true
    out.from(p.location) { out in ok = condition(p, prefix: prefix, into: &out) }
    return ok
  }

  private mutating func condition(_ p: Predicate, prefix: String, into out: inout RuleSourceWriter)
    -> Bool
  {
    switch p.op {
    case "and", "or", "not":
      return logical(p, prefix: prefix, into: &out)
    case "test", "starts", "ends", "contains", "matches", "less", "more", "in", "defined",
      "undefined":
      if let apply = p.apply, !apply.isEmpty {
        diagnostics.error(
          "'\(p.op)' does not take 'apply' (only and, or, not do)", at: p.opLocation)
        return false
      }
      return comparison(p, prefix: prefix, into: &out)
    default:
      let known = PredicateTranslator.operators.joined(separator: ", ")
      diagnostics.error("unknown match op '\(p.op)'; expected one of: \(known)", at: p.opLocation)
      return false
    }
  }

  private mutating func logical(_ p: Predicate, prefix: String, into out: inout RuleSourceWriter)
    -> Bool
  {
    guard let apply = p.apply, !apply.isEmpty else {
      diagnostics.error("'\(p.op)' needs a non-empty 'apply' list of predicates", at: p.opLocation)
      return false
    }
    if p.value != nil, let v = p.valueLocation {
      diagnostics.error("'\(p.op)' does not take 'value'", at: v)
      return false
    }
    let inner = prefix + (p.path.map { "/" + trimmed($0) } ?? "")
    var ok = true
    if p.op == "not" { out.write("not (") }
    for (i, child) in apply.enumerated() {
      if i > 0 { out.write(p.op == "and" ? " and " : " or ") }
      // `or` inside `and` needs parentheses; `and` inside `or` binds tighter anyway.
      let parens = p.op == "and" && child.op == "or" && child.apply?.count ?? 0 > 1
      if parens { out.write("(") }
      ok = write(child, prefix: inner, into: &out) && ok
      if parens { out.write(")") }
    }
    if p.op == "not" { out.write(")") }
    return ok
  }

  private func trimmed(_ path: String) -> String {
    var s = Substring(path)
    while s.hasPrefix("/") { s = s.dropFirst() }
    while s.hasSuffix("/") { s = s.dropLast() }
    return String(s)
  }

  private mutating func comparison(
    _ p: Predicate, prefix: String, into out: inout RuleSourceWriter
  ) -> Bool {
    guard let rawPath = p.path else {
      diagnostics.error("'\(p.op)' needs a 'path' such as /IP/src_addr", at: p.location)
      return false
    }
    let full = prefix.isEmpty ? rawPath : prefix + "/" + trimmed(rawPath)
    let path: String
    switch RuleSyntax.metadataPath(full) {
    case .success(let s): path = s
    case .failure(let e):
      diagnostics.error(e.message, at: p.location)
      return false
    }
    if p.op == "defined" || p.op == "undefined" {
      out.write(p.op == "defined" ? "defined(\(path))" : "not defined(\(path))")
      return true
    }
    guard let value = p.value, let valueAt = p.valueLocation else {
      diagnostics.error("'\(p.op)' needs a 'value'", at: p.location)
      return false
    }
    // ignore_case only means something for strings.
    let lower =
      p.ignoreCase
      && (value.scalar?.string != nil
        || value.sequence?.contains { $0.scalar?.string != nil } == true)
    let subject = lower ? "lower(\(path))" : path
    switch p.op {
    case "in":
      guard let items = value.sequence else {
        diagnostics.error("'in' needs a list value, found \(value.kindDescription)", at: valueAt)
        return false
      }
      guard !items.isEmpty else {
        diagnostics.error("'in' with an empty list never matches", at: valueAt)
        return false
      }
      var literals: [String] = []
      for item in items {
        guard let l = literal(item, op: p.op, lower: lower, at: valueAt) else { return false }
        literals.append(l)
      }
      out.write("\(subject) in {")
      out.from(valueAt) { $0.write(literals.joined(separator: ", ")) }
      out.write("}")
      return true
    case "less", "more":
      guard case .int? = value.scalar?.value else {
        diagnostics.error(
          "'\(p.op)' compares numbers; the value is \(value.kindDescription)", at: valueAt)
        return false
      }
    case "starts", "ends", "contains", "matches":
      guard value.scalar?.string != nil else {
        diagnostics.error(
          "'\(p.op)' needs a string value, found \(value.kindDescription)", at: valueAt)
        return false
      }
    default:
      break
    }
    var text: String
    if p.op == "matches", let pattern = value.scalar?.string {
      text = RuleSyntax.quoted(lower ? "(?i)" + pattern : pattern)
    } else {
      guard let l = literal(value, op: p.op, lower: lower, at: valueAt) else { return false }
      text = l
    }
    let op =
      switch p.op {
      case "test": "=="
      case "less": "<"
      case "more": ">"
      default: p.op
      }
    out.write("\(p.op == "matches" ? path : subject) \(op) ")
    out.from(valueAt) { $0.write(text) }
    return true
  }

  /// A scalar as a rule-language literal: strings quoted (the checker reads them as the field's
  /// type, so "10.0.0.1" beside an address is an address), integers and booleans as written.
  private mutating func literal(_ node: YAMLNode, op: String, lower: Bool, at: ManifestLocation)
    -> String?
  {
    guard let s = node.scalar else {
      diagnostics.error("'\(op)' compares with a scalar, found \(node.kindDescription)", at: at)
      return nil
    }
    switch s.value {
    case .string(let text): return RuleSyntax.quoted(lower ? text.lowercased() : text)
    case .int(let i) where i >= 0: return String(i)
    case .int(let i):
      diagnostics.error("\(i): negative numbers never match a metadata field", at: at)
      return nil
    case .bool(let b): return String(b)
    case .float:
      diagnostics.error("\(s.text): metadata fields hold integers, not fractions", at: at)
      return nil
    case .null:
      diagnostics.error(
        "'\(op)' with null: use op: undefined to test that a field is absent", at: at)
      return nil
    }
  }
}
