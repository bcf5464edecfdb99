// libFuzzer target for the rule-language front end: every input goes through
// `RuleChecker.check` (lexer, parser, checker, lints, regex compiler) and both diagnostic
// renderers. Besides crashes, sanitizer reports and timeouts, it traps when the front end breaks
// one of its promises:
//
// - every diagnostic (and fix-it and note) lies inside the source;
// - what the parser reports as an error is an error of the checked file too;
// - a file without errors has no syntax-error node in its tree, and printing any of its
//   expressions gives text that parses back to the same print.
//
// Compiled as one module with the sources of `RuleLang`, so it sees the internals as the tests do.
// Build and run with `Fuzz/run.sh`; keep each crash as a case in Tests/RuleLangTests/cases/fuzz/.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  let source = SourceFile(name: "fuzz.rules", text: text)
  let checked = RuleChecker.check(source)

  let count = source.bytes.count
  func inside(_ r: SourceRange) -> Bool { 0 <= r.start && r.start <= r.end && r.end <= count }
  for d in checked.diagnostics {
    precondition(inside(d.range), "diagnostic range \(d.range) outside the source: \(d.message)")
    for f in d.fixIts {
      precondition(inside(f.range), "fix-it range \(f.range) outside the source")
    }
    for n in d.notes {
      if let r = n.range { precondition(inside(r), "note range \(r) outside the source") }
    }
  }
  let (file, parseDiagnostics) = Parser.parse(source)
  precondition(
    !parseDiagnostics.hasErrors || checked.hasErrors,
    "the parser found an error that check does not report")
  if !checked.hasErrors {
    for e in fuzzExpressions(file) {
      precondition(!fuzzHasErrorNode(e), "an unreported syntax error node in a valid file")
      let printed = ExprPrinter.print(e)
      var parser = Parser(SourceFile(name: "printed", text: printed))
      let again = parser.parseExpression()
      precondition(
        !parser.diagnostics.hasErrors && parser.at(.endOfFile),
        "'\(printed)' does not parse back")
      precondition(ExprPrinter.print(again) == printed, "'\(printed)' does not print back the same")
    }
  }

  let rendered = DiagnosticRenderer().render(checked.diagnostics, in: source)
  precondition(checked.diagnostics.isEmpty || !rendered.isEmpty, "empty rendering")
  _ = DiagnosticRenderer(color: true).render(checked.diagnostics, in: source)
  _ = DiagnosticJSON.render([(source, checked.diagnostics)])
  return 0
}

/// Const values, conditions, and action operands of a file.
private func fuzzExpressions(_ file: RuleFile) -> [Expr] {
  var out = file.constants.map(\.value)
  for list in file.rulelists {
    for rule in list.rules {
      if let c = rule.condition { out.append(c) }
      for action in rule.actions {
        switch action {
        case .set(let target, let value, _): out += [target, value]
        case .route(let r): out += r.options.map(\.value)
        case .drop, .apply: break
        }
      }
    }
  }
  return out
}

private func fuzzHasErrorNode(_ e: Expr) -> Bool {
  switch e.kind {
  case .error: return true
  case .integer, .string, .bytes, .ip, .cidr, .duration, .bool, .path: return false
  case .set(let xs), .logical(_, let xs), .call(_, let xs):
    return xs.contains(where: fuzzHasErrorNode)
  case .range(let a, let b), .index(let a, let b), .binary(_, let a, let b, _):
    return fuzzHasErrorNode(a) || fuzzHasErrorNode(b)
  case .slice(let a, let b, let c):
    return fuzzHasErrorNode(a) || fuzzHasErrorNode(b) || fuzzHasErrorNode(c)
  case .not(let x), .paren(let x): return fuzzHasErrorNode(x)
  }
}
