import Config
import RuleLang

/// One listener's rules as a rulelist named after the listener, checked and compiled by RuleLang,
/// with every rule-language diagnostic reported at the manifest node its text came from.
struct ListenerTranslator {
  let virtualService: VirtualService
  let listener: VirtualListener
  var diagnostics = BridgeDiagnostics()
  /// The clusters the rules route to, by name.
  var clusters: [String: ClusterConfig] = [:]

  init(_ vs: VirtualService, _ listener: VirtualListener) {
    virtualService = vs
    self.listener = listener
  }

  var namespace: String { virtualService.meta.namespace }

  /// The rule source, or nil if it could not be written.
  mutating func translate(resolver: inout TargetResolver) -> String? {
    var out = RuleSourceWriter()
    var ok = true
    let name = listener.name
    guard RuleSyntax.isName(name) else {
      diagnostics.error(
        "listener name '\(name)' cannot name a rulelist: use letters, digits, '_', '-' and '.', starting with a letter",
        at: listener.location)
      return nil
    }
    out.write(
      "// VirtualService \(namespace)/\(virtualService.meta.name), listener \(name) (\(listener.location))\n"
    )
    out.from(listener.location) {
      $0.write("rulelist \(name) for \(listener.protocol.rawValue) {\n")
    }
    var ruleNames: Set<String> = []
    for (i, rule) in listener.rules.enumerated() {
      let ruleName = rule.name ?? "rule\(i + 1)"
      guard RuleSyntax.isName(ruleName), ruleNames.insert(ruleName).inserted else {
        diagnostics.error(
          "'\(ruleName)' cannot name a rule (invalid or repeated)", at: rule.location)
        ok = false
        continue
      }
      ok = write(rule, name: ruleName, into: &out, resolver: &resolver) && ok
    }
    out.write("}\n")
    guard ok else { return nil }
    check(out)
    return out.text
  }

  private mutating func write(
    _ rule: VirtualRule, name: String, into out: inout RuleSourceWriter,
    resolver: inout TargetResolver
  ) -> Bool {
    var ok = true
    var predicates = PredicateTranslator()
    out.from(rule.location) { out in
      out.write("  rule \(name)")
      if let m = rule.match {
        out.write(" when ")
        ok = predicates.write(m, into: &out)
      }
      out.write(" {\n")
      for r in rule.rewrites {
        out.from(r.location) { out in
          ok = rewrite(r.path, r.value, at: r.location, into: &out) && ok
        }
      }
      ok = route(rule, name: name, into: &out, resolver: &resolver) && ok
      out.write("  }\n")
    }
    for d in predicates.diagnostics.all { diagnostics.append(d) }
    return ok && !predicates.diagnostics.hasErrors
  }

  /// `set PATH = VALUE`; a mapping value sets each of its keys under PATH.
  private mutating func rewrite(
    _ path: String, _ value: YAMLNode, at location: ManifestLocation,
    into out: inout RuleSourceWriter
  ) -> Bool {
    let here = ManifestLocation(file: location.file, mark: value.mark)
    switch value.content {
    case .mapping(let pairs):
      var ok = true
      for p in pairs {
        let key = (p.key.scalar?.text ?? "").split(separator: "~", omittingEmptySubsequences: false)
          .joined(separator: "~0").split(separator: "/", omittingEmptySubsequences: false)
          .joined(separator: "~1")
        ok = rewrite(path + "/" + key, p.value, at: location, into: &out) && ok
      }
      return ok
    case .sequence:
      diagnostics.error("a rewrite value is a scalar or a mapping, not a list", at: here)
      return false
    case .scalar(let s):
      let target: String
      switch RuleSyntax.metadataPath(path) {
      case .success(let p): target = p
      case .failure(let e):
        diagnostics.error(e.message, at: location)
        return false
      }
      let literal: String
      switch s.value {
      case .string(let text): literal = RuleSyntax.quoted(text)
      case .int(let i) where i >= 0: literal = String(i)
      case .bool(let b): literal = String(b)
      case .int, .float: literal = RuleSyntax.quoted(s.text)
      case .null:
        diagnostics.error(
          "rewriting '\(path)' to null: removing metadata is not supported", at: here)
        return false
      }
      out.write("    set \(target) = ")
      out.from(here) { $0.write(literal) }
      out.write("\n")
      return true
    }
  }

  private mutating func route(
    _ rule: VirtualRule, name: String, into out: inout RuleSourceWriter,
    resolver: inout TargetResolver
  ) -> Bool {
    let spec: RouteSpec
    switch rule.route {
    case nil:
      return false
    case .inline(let s):
      spec = s
    case .named(let routeName, let at):
      guard let r = resolver.route(named: routeName, namespace: namespace) else {
        diagnostics.error("no Route '\(routeName)' in namespace '\(namespace)'", at: at)
        return false
      }
      spec = r.spec
    }
    var ok = true
    let onlyRule = listener.rules.count == 1 && rule.name == nil
    func target(_ t: TargetReference, role: String) -> String? {
      let inlineName = onlyRule ? "\(listener.name)-\(role)" : "\(listener.name)-\(name)-\(role)"
      let cluster: ClusterConfig?
      switch t {
      case .named(let n, let at):
        cluster = resolver.cluster(named: n, from: namespace, at: at)
      case .inline(let c):
        var endpoints = c.endpoints
        if endpoints.isEmpty {
          endpoints = [
            EndpointConfig(
              spec: EndpointSpec(
                address: c.address ?? (c.spec.filename == nil ? "127.0.0.1" : nil),
                filename: c.spec.filename))
          ]
        }
        cluster = ClusterConfig(
          name: c.name ?? inlineName, spec: c.spec, endpoints: endpoints)
      }
      guard let cluster else {
        ok = false
        return nil
      }
      if let existing = clusters[cluster.name], existing != cluster {
        diagnostics.error(
          "two different clusters would be called '\(cluster.name)'; name the inline target",
          at: t.location)
        ok = false
      }
      clusters[cluster.name] = cluster
      return cluster.name
    }
    out.from(spec.location) { out in
      let destination = target(spec.destination, role: "destination")
      let ingress = spec.ingress.enumerated().map {
        target($0.element, role: "ingress\($0.offset + 1)")
      }
      let egress = spec.egress.enumerated().map {
        target($0.element, role: "egress\($0.offset + 1)")
      }
      out.write("    route to \(destination ?? "?")")
      if !ingress.isEmpty { out.write(" via " + ingress.map { $0 ?? "?" }.joined(separator: ", ")) }
      if !egress.isEmpty {
        out.write(" return via " + egress.map { $0 ?? "?" }.joined(separator: ", "))
      }
      out.write("\n")
      var options: [(String, ManifestLocation)] = []
      if let r = spec.retry {
        if let on = r.retryOn {
          options.append(("retry_on = \(RuleSyntax.quoted(on))", r.location))
        }
        if let n = r.retries { options.append(("retries = \(n)", r.location)) }
        if let t = r.timeoutMilliseconds { options.append(("timeout = \(t)ms", r.location)) }
      }
      for o in rule.options {
        guard let v = optionValue(o) else {
          ok = false
          continue
        }
        options.append(("\(snakeCase(o.name)) = \(v)", o.location))
      }
      if !options.isEmpty {
        out.write("    with ")
        for (i, o) in options.enumerated() {
          if i > 0 { out.write(", ") }
          out.from(o.1) { $0.write(o.0) }
        }
        out.write("\n")
      }
    }
    return ok
  }

  private mutating func optionValue(_ o: RouteOption) -> String? {
    guard let s = o.value.scalar else {
      diagnostics.error(
        "option '\(o.name)' must be a scalar, found \(o.value.kindDescription)", at: o.location)
      return nil
    }
    switch s.value {
    case .bool(let b): return String(b)
    case .int(let i) where snakeCase(o.name).hasSuffix("timeout"): return "\(i)ms"
    case .int(let i): return String(i)
    case .string(let text):
      let durationUnits = Set("nsumh")
      let isDuration =
        text.first?.isNumber == true && text.last.map(durationUnits.contains) == true
        && text.allSatisfy { $0.isNumber || durationUnits.contains($0) }
      return isDuration ? text : RuleSyntax.quoted(text)
    case .float, .null:
      diagnostics.error("option '\(o.name)' has no valid value '\(s.text)'", at: o.location)
      return nil
    }
  }

  /// `removeOrphanSessions` → `remove_orphan_sessions` (l7mp's options are camelCase).
  private func snakeCase(_ s: String) -> String {
    var out = ""
    for c in s {
      if c.isUppercase {
        if !out.isEmpty { out += "_" }
        out += c.lowercased()
      } else {
        out.append(c)
      }
    }
    return out
  }

  /// Checks and compiles the source; reports each rule-language diagnostic at its manifest node,
  /// quoting the generated line it was found on.
  private mutating func check(_ out: RuleSourceWriter) {
    let source = SourceFile(name: "\(listener.name).rules", text: out.text)
    let checked = RuleChecker.check(source)
    var found = checked.diagnostics
    if !checked.hasErrors, case .failure(let e) = RuleCompiler.compile(checked) {
      found += e.diagnostics
    }
    for d in found where d.severity != .note {
      let at = out.origin(of: d.range.start) ?? listener.location
      let line = source.lineText(source.location(of: d.range.start).line)
        .trimmingCharacters(in: " ")
      let message = "\(d.message) (in the generated rule source: \(line))"
      diagnostics.append(
        BridgeDiagnostic(d.severity == .error ? .error : .warning, message, at: at))
    }
  }
}

extension String {
  fileprivate func trimmingCharacters(in c: Character) -> String {
    String(drop { $0 == c }.reversed().drop { $0 == c }.reversed())
  }
}
